//! Seeded generators for property and fuzz tests (no dependency): the
//! same seed gives the same cases on every run, so a failure can be
//! replayed. Three classic steps, so that each suite keeps the sequence
//! its cases were written against: splitmix64, xorshift64* and xorshift64
//! (the step `rnet_core::num` uses in its own unit tests).

/// Which step the generator takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    SplitMix64,
    XorShift64Star,
    XorShift64,
}

/// A seeded generator.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    step: Step,
}

impl Rng {
    /// splitmix64 (any seed, 0 included).
    pub fn splitmix64(seed: u64) -> Rng {
        Rng {
            state: seed,
            step: Step::SplitMix64,
        }
    }

    /// xorshift64* (a seed other than 0).
    pub fn xorshift64star(seed: u64) -> Rng {
        assert_ne!(seed, 0, "xorshift64* needs a seed other than 0");
        Rng {
            state: seed,
            step: Step::XorShift64Star,
        }
    }

    /// xorshift64 with shifts 13, 7, 17 (a seed other than 0).
    pub fn xorshift64(seed: u64) -> Rng {
        assert_ne!(seed, 0, "xorshift64 needs a seed other than 0");
        Rng {
            state: seed,
            step: Step::XorShift64,
        }
    }

    /// The next 64 bits.
    #[allow(clippy::should_implement_trait)] // not an Iterator: it never ends
    pub fn next(&mut self) -> u64 {
        match self.step {
            Step::SplitMix64 => {
                self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = self.state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            }
            Step::XorShift64Star => {
                self.state ^= self.state >> 12;
                self.state ^= self.state << 25;
                self.state ^= self.state >> 27;
                self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
            }
            Step::XorShift64 => {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                self.state
            }
        }
    }

    /// A number in `0..n` (`n` > 0; the small modulo bias does not matter
    /// for test cases).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below_u64(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One element of `v` (not empty).
    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn steps_give_their_known_sequences() {
        // splitmix64 from 0: the reference implementation's first output.
        assert_eq!(Rng::splitmix64(0).next(), 0xe220_a839_7b1d_cdaf);
        // xorshift64 from 1: 1 ^ 1<<13 = 0x2001, then ^ >>7 = 0x2041, then
        // ^ <<17.
        assert_eq!(Rng::xorshift64(1).next(), 0x2041 ^ (0x2041 << 17));
        let mut r = Rng::xorshift64star(7);
        let v = [1, 2, 3];
        for _ in 0..100 {
            assert!(v.contains(r.pick(&v)));
            assert!(r.below(5) < 5);
        }
    }
}
