//! The built-in demo: loopback listeners only, nothing leaves the machine.

use socket2::Socket;

use crate::loopback::try_listening;
pub use crate::loopback::{BlackHole, DualPort, try_dual_port as dual_port};

/// The name the demo's static resolver answers, with ::1 and 127.0.0.1.
pub const NAME: &str = "dual-stack.demo.test";

/// Listens on a bound socket, accepting and closing connections in the background.
pub fn serve(socket: Socket) -> std::io::Result<()> {
    let listener = try_listening(socket)?;
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    Ok(())
}
