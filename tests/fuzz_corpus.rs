//! Runs every fuzz harness in `shale::fuzzing` under plain `cargo test`, so CI covers them
//! on stable without cargo-fuzz: each committed seed in `fuzz/corpus/<target>/`, each crash
//! reproducer in `fuzz/regressions/<target>/`, and a bounded set of seeded pseudo-random
//! inputs and mutations of the seeds. A failure names the file or the seed to replay.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};

use shale::fuzzing::{HARNESSES, Harness, Rng};

/// Random inputs per target; with the mutations below this keeps the whole file to a few
/// seconds in a debug build.
const RANDOM_INPUTS: usize = 256;
/// Longest random input.
const RANDOM_MAX_LEN: usize = 512;
/// Mutated copies made of each corpus file.
const MUTATIONS_PER_SEED: usize = 4;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The input files in `dir`, sorted; READMEs and dotfiles are not inputs. A missing
/// directory has none.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

fn harness(target: &str) -> Harness {
    let found = HARNESSES.iter().find(|(name, _)| *name == target);
    found.map(|(_, f)| *f).unwrap_or_else(|| panic!("no harness named {target}"))
}

/// Runs one input, turning a panic into one that says which input it was.
fn run(target: &str, what: &str, data: &[u8]) {
    let f = harness(target);
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(data))) {
        eprintln!("{target}: failed on {what} ({} bytes): {data:02x?}", data.len());
        resume_unwind(panic);
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn replay_files(target: &str) {
    let dirs =
        [fuzz_dir().join("corpus").join(target), fuzz_dir().join("regressions").join(target)];
    let files: Vec<PathBuf> = dirs.iter().flat_map(|d| inputs(d)).collect();
    assert!(!files.is_empty(), "{target} has no corpus under {}", fuzz_dir().display());
    for path in files {
        run(target, &path.display().to_string(), &read(&path));
    }
}

/// Seeded random byte strings, then each corpus file with a few bytes changed, cut short, or
/// doubled (a pipeline of itself).
fn replay_random(target: &str, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..RANDOM_INPUTS {
        let len = rng.below(RANDOM_MAX_LEN + 1);
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        run(target, &format!("random input {i} of seed {seed}"), &data);
    }
    for path in inputs(&fuzz_dir().join("corpus").join(target)) {
        let seed_bytes = read(&path);
        for m in 0..MUTATIONS_PER_SEED {
            let data = mutate(&seed_bytes, &mut rng);
            run(target, &format!("mutation {m} of {}", path.display()), &data);
        }
    }
}

fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = data.to_vec();
    match rng.below(3) {
        0 if !out.is_empty() => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
        }
        1 => out.truncate(rng.below(out.len() + 1)),
        _ => out.extend_from_slice(data.get(1..).unwrap_or_default()),
    }
    out
}

/// Two tests per target: the committed files, and the seeded random inputs.
macro_rules! harness_tests {
    ($($target:ident = $seed:literal),* $(,)?) => {$(
        mod $target {
            #[test]
            fn corpus_and_regressions_pass() {
                super::replay_files(stringify!($target));
            }

            #[test]
            fn seeded_random_inputs_pass() {
                super::replay_random(stringify!($target), $seed);
            }
        }
    )*};
}

harness_tests! {
    server_binary_decode = 1,
    client_response_decode = 2,
    text_decode = 3,
    round_trip = 4,
    split = 5,
    store_model = 6,
}

#[test]
fn every_harness_has_a_fuzz_target_and_a_corpus() {
    for (name, _) in HARNESSES {
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(target.is_file(), "missing {}", target.display());
        let source = std::fs::read_to_string(&target).unwrap_or_default();
        let call = format!("fuzzing::{name}");
        let calls_it = source.match_indices(&call).any(|(i, _)| {
            let next = source[i + call.len()..].chars().next().unwrap_or(' ');
            !(next.is_alphanumeric() || next == '_')
        });
        assert!(calls_it, "{} does not run shale::fuzzing::{name}", target.display());
        assert!(!inputs(&fuzz_dir().join("corpus").join(name)).is_empty(), "{name}: no seeds");
    }
}
