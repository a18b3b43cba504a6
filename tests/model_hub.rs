//! The hub path: a model is downloaded through hf-hub from a local fake hub (HF_ENDPOINT), into
//! the Hugging Face cache, and keeps working with the server gone (cache, HF_HUB_OFFLINE).

mod common;

use std::process::Command;
use std::sync::atomic::Ordering;

use common::fake_hub::{self, FakeHub};
use whisper_spec::store::hub::HubOptions;
use whisper_spec::store::{Source, Store};

fn store(root: &std::path::Path, cache: &std::path::Path, endpoint: &str, offline: bool) -> Store {
    Store {
        root: root.to_path_buf(),
        hub: HubOptions {
            endpoint: Some(endpoint.to_string()),
            cache_dir: cache.to_path_buf(),
            token: None,
            offline,
            progress: false,
            revision: "main".into(),
        },
    }
}

#[test]
fn downloads_from_the_hub_then_works_from_the_cache_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = fake_hub::tiny_en_repo(tmp.path());
    let mut hub = FakeHub::serve("openai/whisper-tiny.en", &repo).unwrap();
    let (root, cache) = (tmp.path().join("store"), tmp.path().join("hf/hub"));

    let got = store(&root, &cache, &hub.endpoint, false)
        .resolve("tiny.en")
        .unwrap();
    assert_eq!(got.source, Source::HubCache);
    assert!(
        got.model.dir.starts_with(&cache),
        "{}",
        got.model.dir.display()
    );
    assert!(got.model.dir.ends_with(format!(
        "snapshots/{}",
        whisper_spec::store::local_hub::COMMIT
    )));
    got.model.verify().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation_config.json",
    ] {
        assert_eq!(
            std::fs::read(got.model.dir.join(f)).unwrap(),
            std::fs::read(repo.join(f)).unwrap(),
            "{f} differs after download"
        );
    }
    assert!(
        hub.requests.load(Ordering::SeqCst) >= 8,
        "two requests per file"
    );
    assert!(
        !root.join("tiny.en").exists(),
        "a hub model stays in the HF cache"
    );

    // Server gone: the cache answers, online or offline, with no request made.
    hub.stop();
    for offline in [false, true] {
        let again = store(&root, &cache, &hub.endpoint, offline)
            .resolve("tiny.en")
            .unwrap();
        assert_eq!(again.source, Source::HubCache);
        assert_eq!(again.model.dir, got.model.dir);
    }

    // A model that is not cached fails clearly with the server gone, naming the endpoint; and
    // offline mode says so instead of trying the network.
    let err = store(&root, &cache, &hub.endpoint, false)
        .resolve("tiny")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("openai/whisper-tiny") && err.contains(&hub.endpoint),
        "{err}"
    );
    let err = store(&root, &cache, &hub.endpoint, true)
        .resolve("tiny")
        .unwrap_err()
        .to_string();
    assert!(err.contains("HF_HUB_OFFLINE"), "{err}");
}

#[test]
fn the_command_line_honours_hf_endpoint_hf_home_and_hf_hub_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = fake_hub::tiny_en_repo(tmp.path());
    let mut hub = FakeHub::serve("openai/whisper-tiny.en", &repo).unwrap();
    let hf_home = tmp.path().join("hf-home");
    let endpoint = hub.endpoint.clone();
    let run = |args: &[&str], offline: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
        cmd.args(args)
            .env("HF_ENDPOINT", &endpoint)
            .env("HF_HOME", &hf_home)
            .env("WHISPER_SPEC_MODELS", tmp.path().join("store"))
            .env_remove("HF_HUB_CACHE")
            .env_remove("HF_TOKEN");
        if offline {
            cmd.env("HF_HUB_OFFLINE", "1");
        } else {
            cmd.env_remove("HF_HUB_OFFLINE");
        }
        cmd.output().unwrap()
    };

    let out = run(&["models", "fetch", "tiny.en"], false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        dir.starts_with(&hf_home.join("hub").display().to_string()),
        "{dir}"
    );

    hub.stop();
    let info = run(&["models", "info", "tiny.en", "--json"], true);
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(json["source"], "Hugging Face cache");
    assert_eq!(json["dir"], dir.as_str());
}
