pub struct Counter {
    count: u32,
}

pub trait Tick {
    fn tick(&mut self) -> u32;
}

impl Tick for Counter {
    fn tick(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

pub fn run(c: &mut Counter, n: u32) -> u32 {
    (0..n).map(|_| c.tick()).last().unwrap_or(0)
}

mod tests {
    #[test]
    fn ticks() {}
}
