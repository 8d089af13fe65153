use std::io;
use std::net::IpAddr;
#[cfg(not(unix))]
use std::net::{SocketAddr, ToSocketAddrs};

use super::{Lookup, Resolve, ResolveError, ResolveErrorKind};
use crate::proto::Family;

/// The operating system's resolver (`getaddrinfo`), for nsswitch, mDNS and VPN split-DNS users.
///
/// Each family is a separate lookup on tokio's blocking pool, with an address-family hint, so the
/// two answers still arrive independently and the Resolution Delay applies.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver {
    _private: (),
}

impl SystemResolver {
    /// The system resolver.
    pub fn new() -> SystemResolver {
        SystemResolver { _private: () }
    }
}

impl Resolve for SystemResolver {
    fn lookup(&self, name: &str, family: Family) -> Lookup {
        let name = name.to_string();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || getaddrinfo(&name, family)).await {
                Ok(result) => result,
                Err(join) => Err(ResolveError::new(
                    ResolveErrorKind::Other,
                    format!("lookup task failed: {join}"),
                )),
            }
        })
    }
}

#[cfg(unix)]
fn getaddrinfo(name: &str, family: Family) -> Result<Vec<IpAddr>, ResolveError> {
    use std::ffi::CString;
    use std::ptr;

    let c_name = CString::new(name)
        .map_err(|_| ResolveError::new(ResolveErrorKind::Other, "the name contains a NUL byte"))?;
    // SAFETY: addrinfo is a plain C struct for which all-zero is a valid value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = match family {
        Family::V6 => libc::AF_INET6,
        Family::V4 => libc::AF_INET,
    };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: c_name is NUL-terminated, hints is initialised, res receives a list we free below.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), ptr::null(), &hints, &mut res) };
    if rc != 0 {
        return match rc {
            libc::EAI_NODATA => Ok(Vec::new()),
            libc::EAI_NONAME => Err(ResolveError::new(
                ResolveErrorKind::NotFound,
                gai_message(rc),
            )),
            libc::EAI_AGAIN => Err(ResolveError::new(
                ResolveErrorKind::TimedOut,
                gai_message(rc),
            )),
            libc::EAI_SYSTEM => Err(ResolveError::with_source(
                ResolveErrorKind::Other,
                io::Error::last_os_error(),
            )),
            _ => Err(ResolveError::new(ResolveErrorKind::Other, gai_message(rc))),
        };
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: cur points into the list getaddrinfo returned, which is valid until freeaddrinfo.
        let ai = unsafe { &*cur };
        // SAFETY: ai_addr points to a sockaddr of ai_addrlen bytes of the family it says.
        if let Some(ip) = unsafe { sockaddr_ip(ai.ai_addr) }
            && Family::of_ip(&ip) == family
            && !out.contains(&ip)
        {
            out.push(ip);
        }
        cur = ai.ai_next;
    }
    // SAFETY: res came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// # Safety
/// `sa` must be null or point to a valid sockaddr of the family in its `sa_family`.
#[cfg(unix)]
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: per the function's contract.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let sin = &*(sa as *const libc::sockaddr_in);
                Some(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ))
            }
            libc::AF_INET6 => {
                let sin6 = &*(sa as *const libc::sockaddr_in6);
                Some(IpAddr::from(sin6.sin6_addr.s6_addr))
            }
            _ => None,
        }
    }
}

#[cfg(unix)]
fn gai_message(rc: i32) -> String {
    // SAFETY: gai_strerror returns a static NUL-terminated string for any code.
    let msg = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) };
    msg.to_string_lossy().into_owned()
}

/// Without libc's getaddrinfo: the standard library's resolver, filtered by family.
#[cfg(not(unix))]
fn getaddrinfo(name: &str, family: Family) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|e| ResolveError::with_source(ResolveErrorKind::Other, e))?;
    let mut out: Vec<IpAddr> = Vec::new();
    for a in addrs
        .map(|a: SocketAddr| a.ip())
        .filter(|ip| Family::of_ip(ip) == family)
    {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}
