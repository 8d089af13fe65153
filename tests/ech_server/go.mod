module eyeballs/ech_server

go 1.24
