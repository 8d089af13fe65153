// A TLS 1.3 server with Encrypted Client Hello (RFC 9849), for eyeballs' ECH tests: Go's
// crypto/tls does ECH on the server side (tls.Config.EncryptedClientHelloKeys, Go 1.24+).
//
// It makes a CA, a certificate for the public name and the secret name (signed by that CA), and
// ECH keys, then prints one JSON line on stdout:
//
//	{"addr": "127.0.0.1:PORT", "ca_pem": "...", "ech_config_list": "HEX"}
//
// and serves HTTPS (HTTP/1.1 and HTTP/2) until stdin closes. Each response's body says what the
// server saw: "sni=NAME ech=true|false".
//
// -mode says which ECH configuration list it prints:
//
//	ech    the server's own: ECH is accepted;
//	stale  one whose key the server does not have: ECH is rejected, and the server's own
//	       configuration comes back as retry configs (authenticated under the public name);
//	none   any, and the server has no ECH keys: rejected, no retry configs.
package main

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// echConfig marshals one ECHConfig (RFC 9849 section 4): version 0xfe0d, DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256 with AES-128-GCM or ChaCha20-Poly1305, no extensions.
func echConfig(id uint8, public []byte, publicName string) []byte {
	var contents []byte
	contents = append(contents, id)
	contents = binary.BigEndian.AppendUint16(contents, 0x0020) // kem_id
	contents = binary.BigEndian.AppendUint16(contents, uint16(len(public)))
	contents = append(contents, public...)
	suites := []uint16{0x0001, 0x0001, 0x0001, 0x0003} // (kdf, aead) pairs
	contents = binary.BigEndian.AppendUint16(contents, uint16(2*len(suites)))
	for _, s := range suites {
		contents = binary.BigEndian.AppendUint16(contents, s)
	}
	contents = append(contents, 0) // maximum_name_length
	contents = append(contents, uint8(len(publicName)))
	contents = append(contents, publicName...)
	contents = binary.BigEndian.AppendUint16(contents, 0) // extensions
	var config []byte
	config = binary.BigEndian.AppendUint16(config, 0xfe0d)
	config = binary.BigEndian.AppendUint16(config, uint16(len(contents)))
	return append(config, contents...)
}

func echKey(id uint8, publicName string) tls.EncryptedClientHelloKey {
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	return tls.EncryptedClientHelloKey{
		Config:      echConfig(id, key.PublicKey().Bytes(), publicName),
		PrivateKey:  key.Bytes(),
		SendAsRetry: true,
	}
}

func list(configs ...[]byte) []byte {
	var body []byte
	for _, c := range configs {
		body = append(body, c...)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(body))), body...)
}

// certificates makes a CA and a leaf for names, signed by it.
func certificates(names []string) (tls.Certificate, []byte) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eyeballs ECH test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDer, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		log.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDer, err := x509.CreateCertificate(rand.Reader, leaf, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		log.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leafDer}, PrivateKey: leafKey}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDer})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	mode := flag.String("mode", "ech", "ech, stale or none")
	publicName := flag.String("public-name", "public.test", "the ECH public name")
	secretName := flag.String("secret-name", "secret.test", "the name behind ECH")
	flag.Parse()

	cert, caPem := certificates([]string{*secretName, *publicName})
	own := echKey(1, *publicName)
	config := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	var printed []byte
	switch *mode {
	case "ech":
		config.EncryptedClientHelloKeys = []tls.EncryptedClientHelloKey{own}
		printed = list(own.Config)
	case "stale":
		config.EncryptedClientHelloKeys = []tls.EncryptedClientHelloKey{own}
		printed = list(echKey(2, *publicName).Config)
	case "none":
		printed = list(own.Config)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	out, _ := json.Marshal(map[string]string{
		"addr":            ln.Addr().String(),
		"ca_pem":          string(caPem),
		"ech_config_list": hex.EncodeToString(printed),
	})
	fmt.Println(string(out))

	server := &http.Server{
		TLSConfig: config,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "sni=%s ech=%t", r.TLS.ServerName, r.TLS.ECHAccepted)
		}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		// The test holds stdin open for as long as it needs the server.
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	if err := server.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
