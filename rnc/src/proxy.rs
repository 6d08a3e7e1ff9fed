//! `-x proxy[:port]` with `-X 4|5|connect` and `-P user`: the SOCKS v4,
//! SOCKS v5 (RFC 1928, no authentication) and HTTP CONNECT handshakes of
//! nc's `socks.c`, done on a blocking socket before the relay starts.

use crate::cli::ProxyProto;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

/// A proxy handshake failure, worded as nc words it.
#[derive(Debug)]
pub struct ProxyError(pub String);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits `-x host[:port]` (`[v6]:port` also accepted) with the default
/// port of the protocol (1080 for SOCKS, 3128 for CONNECT).
pub fn split_proxy(spec: &str, proto: ProxyProto) -> (String, String) {
    let default = match proto {
        ProxyProto::Connect => "3128",
        _ => "1080",
    };
    if let Some(rest) = spec.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once(']') {
            let port = p
                .strip_prefix(':')
                .filter(|p| !p.is_empty())
                .unwrap_or(default);
            return (h.to_string(), port.to_string());
        }
    }
    match spec.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h.to_string(), p.to_string()),
        _ => (spec.to_string(), default.to_string()),
    }
}

fn read_exact(s: &mut TcpStream, buf: &mut [u8]) -> Result<(), ProxyError> {
    s.read_exact(buf)
        .map_err(|_| ProxyError("read failed".into()))
}

fn write_all(s: &mut TcpStream, buf: &[u8]) -> Result<(), ProxyError> {
    s.write_all(buf)
        .map_err(|_| ProxyError("write failed".into()))
}

fn socks5_error(code: u8) -> &'static str {
    match code {
        1 => "General SOCKS server failure",
        2 => "Connection not allowed by ruleset",
        3 => "Network unreachable",
        4 => "Host unreachable",
        5 => "Connection refused",
        6 => "TTL expired",
        7 => "Command not supported",
        8 => "Address type not supported",
        _ => "Unknown error",
    }
}

/// Runs the handshake on `s` (already connected to the proxy) for `host`
/// and `port`. `addr` is the destination resolved locally when the
/// protocol needs an address (SOCKS v4, or `-n`).
pub fn handshake(
    s: &mut TcpStream,
    proto: ProxyProto,
    host: &str,
    port: u16,
    addr: Option<IpAddr>,
    auth: Option<(&str, &str)>,
) -> Result<(), ProxyError> {
    match proto {
        ProxyProto::Socks5 => {
            write_all(s, &[5, 1, 0])?;
            let mut r = [0u8; 2];
            read_exact(s, &mut r)?;
            if r[0] != 5 {
                return Err(ProxyError(
                    "connection failed, unsupported SOCKS version".into(),
                ));
            }
            if r[1] != 0 {
                return Err(ProxyError(
                    "connection failed, no supported authentication method".into(),
                ));
            }
            let mut req = vec![5, 1, 0];
            match addr {
                Some(IpAddr::V4(a)) => {
                    req.push(1);
                    req.extend_from_slice(&a.octets());
                }
                Some(IpAddr::V6(a)) => {
                    req.push(4);
                    req.extend_from_slice(&a.octets());
                }
                None => {
                    let name = host.as_bytes();
                    if name.len() > 255 {
                        return Err(ProxyError("host name too long for SOCKS5".into()));
                    }
                    req.push(3);
                    req.push(name.len() as u8);
                    req.extend_from_slice(name);
                }
            }
            req.extend_from_slice(&port.to_be_bytes());
            write_all(s, &req)?;
            let mut head = [0u8; 4];
            read_exact(s, &mut head)?;
            if head[1] != 0 {
                return Err(ProxyError(format!(
                    "connection failed, SOCKSv5 error: {}",
                    socks5_error(head[1])
                )));
            }
            let rest = match head[3] {
                1 => 4 + 2,
                4 => 16 + 2,
                3 => {
                    let mut l = [0u8; 1];
                    read_exact(s, &mut l)?;
                    usize::from(l[0]) + 2
                }
                _ => {
                    return Err(ProxyError(
                        "connection failed, unsupported address type".into(),
                    ))
                }
            };
            let mut skip = vec![0u8; rest];
            read_exact(s, &mut skip)
        }
        ProxyProto::Socks4 => {
            let Some(IpAddr::V4(a)) = addr else {
                return Err(ProxyError("SOCKS v4 needs an IPv4 destination".into()));
            };
            let mut req = vec![4, 1];
            req.extend_from_slice(&port.to_be_bytes());
            req.extend_from_slice(&a.octets());
            req.push(0);
            write_all(s, &req)?;
            let mut r = [0u8; 8];
            read_exact(s, &mut r)?;
            if r[1] != 90 {
                return Err(ProxyError(format!(
                    "connection failed, SOCKS error {}",
                    r[1]
                )));
            }
            Ok(())
        }
        ProxyProto::Connect => {
            let target = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let mut req = format!("CONNECT {target} HTTP/1.0\r\n");
            if let Some((user, pass)) = auth {
                req.push_str(&format!(
                    "Proxy-Authorization: Basic {}\r\n",
                    base64(format!("{user}:{pass}").as_bytes())
                ));
            }
            req.push_str("\r\n");
            write_all(s, req.as_bytes())?;
            let status = read_line(s)?;
            let ok = status
                .split_whitespace()
                .nth(1)
                .is_some_and(|code| code == "200");
            if !status.starts_with("HTTP/1.") || !ok {
                return Err(ProxyError(format!("Proxy error: \"{status}\"")));
            }
            // Headers, up to the empty line.
            while !read_line(s)?.is_empty() {}
            Ok(())
        }
    }
}

/// One CRLF- or LF-terminated line, read a byte at a time so that no data
/// after the proxy's reply is consumed.
fn read_line(s: &mut TcpStream) -> Result<String, ProxyError> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        read_exact(s, &mut b)?;
        if b[0] == b'\n' {
            break;
        }
        line.push(b[0]);
        if line.len() > 8192 {
            return Err(ProxyError("proxy line too long".into()));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Connects to the proxy (first address that answers).
pub fn connect_proxy(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    for a in addrs {
        match TcpStream::connect(a) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn proxy_spec() {
        assert_eq!(
            split_proxy("10.0.0.1", ProxyProto::Socks5),
            ("10.0.0.1".into(), "1080".into())
        );
        assert_eq!(
            split_proxy("p:8080", ProxyProto::Connect),
            ("p".into(), "8080".into())
        );
        assert_eq!(
            split_proxy("p", ProxyProto::Connect),
            ("p".into(), "3128".into())
        );
        assert_eq!(
            split_proxy("[::1]:9", ProxyProto::Socks4),
            ("::1".into(), "9".into())
        );
    }

    #[test]
    fn base64_rfc4648() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn socks5_and_connect_against_fake_proxies() {
        // SOCKS5: the proxy checks the request for a domain name.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut hello = [0u8; 3];
            c.read_exact(&mut hello).unwrap();
            assert_eq!(hello, [5, 1, 0]);
            c.write_all(&[5, 0]).unwrap();
            let mut req = [0u8; 5 + 9 + 2];
            c.read_exact(&mut req).unwrap();
            assert_eq!(&req[..5], &[5, 1, 0, 3, 9]);
            assert_eq!(&req[5..14], b"lab.local");
            assert_eq!(&req[14..], &5555u16.to_be_bytes());
            c.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80, b'h'])
                .unwrap();
        });
        let mut s = TcpStream::connect(a).unwrap();
        handshake(&mut s, ProxyProto::Socks5, "lab.local", 5555, None, None).unwrap();
        let mut after = [0u8; 1];
        s.read_exact(&mut after).unwrap();
        assert_eq!(&after, b"h", "data after the reply is the connection's");
        t.join().unwrap();

        // CONNECT: a 403 is an error with the status line.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = [0u8; 512];
            let n = c.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            c.write_all(b"HTTP/1.0 403 Forbidden\r\n\r\n").unwrap();
            req
        });
        let mut s = TcpStream::connect(a).unwrap();
        let e =
            handshake(&mut s, ProxyProto::Connect, "h", 80, None, Some(("u", "p"))).unwrap_err();
        assert_eq!(e.to_string(), "Proxy error: \"HTTP/1.0 403 Forbidden\"");
        let req = t.join().unwrap();
        assert!(
            req.starts_with("CONNECT h:80 HTTP/1.0\r\nProxy-Authorization: Basic dTpw\r\n\r\n"),
            "{req}"
        );
    }
}
