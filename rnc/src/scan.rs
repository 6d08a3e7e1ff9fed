//! Port lists and `-z`: the ports a client tries in turn (numbers,
//! `lo-hi` ranges, service names; shuffled by `-r`), and what a scan does
//! with a port that answered (close at once, narrate the open port).

use crate::cli::Options;
use crate::error::Error;
use crate::narrate::Narrator;
use crate::net::{self, Connected, Port, Transport};

/// The ports to try, in the order to try them. A `-p` source port is
/// checked once, before any connect (nc fails silently there).
pub(crate) fn ports(o: &Options, t: Transport) -> Result<Vec<Port>, Error> {
    if let Some(p) = &o.source_port {
        net::parse_ports(std::slice::from_ref(p), t)?;
    }
    let mut ports = net::parse_ports(&o.operands[1..], t)?;
    if o.random {
        shuffle(&mut ports);
    }
    Ok(ports)
}

/// `-z`: the port answered. The socket is closed at once; with
/// `--explain` the open port is narrated after the close.
pub(crate) fn open(c: Connected, t: Transport, narr: &mut Narrator) {
    if t == Transport::Tcp && narr.on() {
        let (local, peer) = (c.local, c.peer);
        drop(c);
        narr.scan_open(&local, &peer);
    }
}

/// `-r`: a random order.
fn shuffle<T>(v: &mut [T]) {
    // A small xorshift seeded from the clock: `-r` only needs the order to
    // differ between runs.
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_keeps_every_port() {
        let mut v: Vec<u16> = (1..=100).collect();
        shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=100).collect::<Vec<u16>>());
    }
}
