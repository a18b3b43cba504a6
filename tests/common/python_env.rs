//! Python tools the tests drive (moto's S3 server, the official openai client, websockets,
//! selenium), installed from PyPI on first use into virtual environments under the target
//! directory, pinned, one per purpose. A test that cannot install its tool fails loudly.

use std::path::PathBuf;
use std::process::Command;

/// The python of the venv `name`, with `packages` installed (created once, under a lock, so
/// concurrent test binaries wait for each other). `check` is an import line that succeeds once
/// everything is in place.
pub fn venv_python(name: &str, packages: &[&str], check: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-venv"));
    let python = venv.join("bin/python");
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let ready = || {
        Command::new(&python)
            .args(["-c", check])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "cannot create the venv {}", venv.display());
        let pip = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .expect("pip install");
        assert!(pip.success(), "cannot install {packages:?} from PyPI");
        assert!(ready(), "{packages:?} installed but `{check}` fails");
    }
    python
}
