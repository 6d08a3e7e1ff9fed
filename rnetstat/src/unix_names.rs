//! The names of unix sockets as the kernel holds them, to read
//! `/proc/net/unix` safely: the file prints a bound name raw, so a name
//! holding a newline would otherwise be read as a row of its own.
//! [`LiveUnixNames`] answers, for each inode, the printed name the reader
//! must expect, from the `NETLINK_SOCK_DIAG` list ([`rnet_core::diag::unix_names`]).

use rnet_core::procnet::{unix_printed_name, UnixNames};

/// How many times one listing takes the kernel's list of unix sockets
/// again ([`LiveUnixNames`]). The list is taken before `/proc/net/unix`
/// is opened, so a socket bound between the two is in the file and not in
/// the list. The first such socket met makes a new list, which holds every
/// socket bound until that moment (the rest of the file is read in
/// milliseconds); the second covers a socket bound while that new list
/// was being taken. Each list is a full dump, costing about as much as
/// reading the file, so more would only make a machine that binds sockets
/// all the time pay for many dumps per listing; and no number closes the
/// race: a socket bound after the last list is read as netstat reads it,
/// its lines as lines.
const MAX_UNIX_LIST_RELOADS: u32 = 2;

/// The kernel's own list of unix sockets (`NETLINK_SOCK_DIAG`), so that a
/// name holding a newline is read as one socket and not as a forged row.
/// Only what the check needs is kept: the inode of every named socket (4
/// bytes each, to notice a socket the list does not have) and the printed
/// names that hold a newline (the only ones that need checking); other
/// names are not copied. A named socket missing from the list (bound after
/// it was taken) makes it be taken again, at most
/// [`MAX_UNIX_LIST_RELOADS`] times per listing.
///
/// `D` takes the list: [`rnet_core::diag::unix_names`], or a stand-in in tests.
pub struct LiveUnixNames<D> {
    live: bool,
    dump: D,
    /// Inodes of the named sockets in the last list, sorted.
    named: Vec<u32>,
    /// `(inode, printed name)` of the names holding a newline, sorted.
    with_newline: Vec<(u32, Vec<u8>)>,
    reloads: u32,
}

impl LiveUnixNames<fn(&mut dyn FnMut(u32, &[u8])) -> Option<()>> {
    pub fn new(live: bool) -> Self {
        LiveUnixNames::with_dump(live, rnet_core::diag::unix_names)
    }
}

impl<D: FnMut(&mut dyn FnMut(u32, &[u8])) -> Option<()>> LiveUnixNames<D> {
    fn with_dump(live: bool, dump: D) -> Self {
        let mut n = LiveUnixNames {
            live,
            dump,
            named: Vec::new(),
            with_newline: Vec::new(),
            reloads: 0,
        };
        // No unix_diag: nothing to check against, as net-tools.
        n.live = live && n.load();
        n
    }

    /// Takes the list; on failure keeps the one it had and says false.
    fn load(&mut self) -> bool {
        let mut named = Vec::new();
        let mut with_newline = Vec::new();
        let answered = (self.dump)(&mut |inode, name| {
            named.push(inode);
            // unix_printed_name turns only NULs into `@`: the printed name
            // holds a newline exactly when the bound one does.
            if name.contains(&b'\n') {
                with_newline.push((inode, unix_printed_name(name)));
            }
        })
        .is_some();
        if answered {
            named.sort_unstable();
            with_newline.sort_unstable();
            self.named = named;
            self.with_newline = with_newline;
        }
        answered
    }
}

impl<D: FnMut(&mut dyn FnMut(u32, &[u8])) -> Option<()>> UnixNames for LiveUnixNames<D> {
    fn printed(&mut self, inode: u64) -> Option<&[u8]> {
        if !self.live {
            return None;
        }
        let i = u32::try_from(inode).ok()?;
        if self.named.binary_search(&i).is_err() && self.reloads < MAX_UNIX_LIST_RELOADS {
            self.reloads += 1;
            if !self.load() {
                // Keep checking against the list already taken; stop asking.
                self.reloads = MAX_UNIX_LIST_RELOADS;
            }
        }
        let k = self
            .with_newline
            .binary_search_by_key(&i, |(k, _)| *k)
            .ok()?;
        Some(&self.with_newline[k].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Lists taken by the stand-in dumps on this test's thread.
        static DUMPS: Cell<u32> = const { Cell::new(0) };
    }

    /// A machine that binds a new socket between any two lists: each list
    /// holds two old sockets (one named with a newline) and a new one.
    fn busy(each: &mut dyn FnMut(u32, &[u8])) -> Option<()> {
        let n = DUMPS.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        each(10, b"/run/plain.sock\0");
        each(11, b"\0evil\nforged row");
        each(100 + n, b"\0new");
        Some(())
    }

    /// The first list answers, every later one fails.
    fn fails_later(each: &mut dyn FnMut(u32, &[u8])) -> Option<()> {
        let n = DUMPS.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        each(11, b"\0evil\nforged row");
        (n == 1).then_some(())
    }

    #[test]
    fn unknown_sockets_take_the_list_again_at_most_max_reloads_times() {
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(true, busy);
        assert_eq!(DUMPS.with(Cell::get), 1);
        // Only the name with a newline is kept, as the file prints it.
        assert_eq!(
            names.with_newline,
            vec![(11, b"@evil\nforged row".to_vec())]
        );
        assert_eq!(names.named, vec![10, 11, 101]);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
        assert_eq!(names.printed(10), None);
        assert_eq!(DUMPS.with(Cell::get), 1, "known sockets need no new list");
        // Sockets bound after the list, one after another.
        for inode in 200..300 {
            assert_eq!(names.printed(inode), None);
        }
        assert_eq!(DUMPS.with(Cell::get), 1 + MAX_UNIX_LIST_RELOADS);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
    }

    #[test]
    fn a_list_that_fails_later_keeps_the_one_taken() {
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(true, fails_later);
        assert_eq!(names.printed(500), None);
        assert_eq!(DUMPS.with(Cell::get), 2);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
        assert_eq!(names.printed(501), None);
        assert_eq!(DUMPS.with(Cell::get), 2, "no more lists after a failure");
        // A first list that fails: nothing to check against, no more asking.
        DUMPS.with(|d| d.set(1));
        let mut names = LiveUnixNames::with_dump(true, fails_later);
        assert_eq!(names.printed(11), None);
        assert_eq!(DUMPS.with(Cell::get), 2);
        // Under RNET_PROC_ROOT: never asked.
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(false, busy);
        assert_eq!(names.printed(11), None);
        assert_eq!(DUMPS.with(Cell::get), 0);
    }
}
