//! Bench arguments, in the grammar of ci_tools' bench.c:
//! `[--quick|--full] [--rounds N] [NAME[,NAME...] ...]`.  They come from the
//! words of INIT_SCRIPT after its program path, then from the kernel command
//! line, whose options and benchmark names override INIT_SCRIPT's.
//! Kernel-style `key=value` words (console=ttyS0, ci_tools.pad=...) are
//! ignored; an unknown option or benchmark name is reported and skipped.

use crate::bench::BENCHMARKS;
use crate::println;

pub const MAX_ROUNDS: u32 = 100;

pub struct Options {
    pub quick: bool,
    pub rounds: u32,
    pub selected: [bool; BENCHMARKS.len()],
}

fn parse_rounds(word: &str) -> Option<u32> {
    match word.parse::<u32>() {
        Ok(n) if (1..=MAX_ROUNDS).contains(&n) => Some(n),
        _ => {
            println!("demo-kernel: ignoring --rounds '{word}' (expected 1..{MAX_ROUNDS})");
            None
        }
    }
}

/// Parses the words of each source in turn: a later source's options win,
/// and benchmark names in a later source replace an earlier one's.
pub fn parse<const N: usize>(sources: [&mut dyn Iterator<Item = &str>; N]) -> Options {
    let mut options = Options {
        quick: false,
        rounds: 1,
        selected: [false; BENCHMARKS.len()],
    };
    for words in sources {
        let selected = parse_source(words, &mut options);
        if selected.contains(&true) {
            options.selected = selected;
        }
    }
    if !options.selected.contains(&true) {
        options.selected = [true; BENCHMARKS.len()];
    }
    options
}

fn parse_source(
    words: &mut dyn Iterator<Item = &str>,
    options: &mut Options,
) -> [bool; BENCHMARKS.len()] {
    let mut selected = [false; BENCHMARKS.len()];
    let mut only_names = false;
    while let Some(word) = words.next() {
        if !only_names && word.starts_with('-') {
            match word {
                "--" => only_names = true,
                "--quick" => options.quick = true,
                "--full" => options.quick = false,
                "--rounds" => match words.next() {
                    Some(value) => options.rounds = parse_rounds(value).unwrap_or(options.rounds),
                    None => println!("demo-kernel: ignoring --rounds without a value"),
                },
                _ => match word.strip_prefix("--rounds=") {
                    Some(value) => options.rounds = parse_rounds(value).unwrap_or(options.rounds),
                    None => println!("demo-kernel: ignoring unknown option {word}"),
                },
            }
            continue;
        }
        if word.contains('=') {
            continue; // a kernel parameter, not ours
        }
        for name in word.split(',').filter(|name| !name.is_empty()) {
            match BENCHMARKS.iter().position(|b| b.name == name) {
                Some(index) => selected[index] = true,
                None => println!("demo-kernel: ignoring unknown benchmark {name}"),
            }
        }
    }
    selected
}
