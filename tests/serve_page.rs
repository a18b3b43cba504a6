//! The page at `/` in a real headless browser: Debian's chromium driven by selenium (PyPI)
//! through chromedriver, with a fake microphone that plays a corpus recording
//! (`--use-file-for-fake-audio-capture`). Starting the microphone must produce committed
//! captions of that recording and rows in the speculation table; a file given to the page's
//! file input must come back as timed segments. A screenshot is left in the target directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// chromium and chromedriver from Debian (`apt-get install chromium chromium-driver`; .ci/run
/// installs them).
fn browser() -> (PathBuf, PathBuf) {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let driver = PathBuf::from("/usr/bin/chromedriver");
    assert!(
        chromium.exists() && driver.exists(),
        "this test needs chromium and chromedriver: apt-get install chromium chromium-driver"
    );
    (chromium, driver)
}

#[test]
fn the_page_captions_the_microphone_and_transcribes_a_dropped_file() {
    let (chromium, driver) = browser();
    let python = common::python_env::venv_python(
        "serve-page",
        &["selenium==4.38.0"],
        "import selenium.webdriver",
    );
    let server = common::serve::Server::start(&[]);
    let url = format!("{}/", server.url);

    // Chromium takes canonical paths only.
    let shared = common::shared_dir().canonicalize().unwrap();
    let microphone = shared.join("corpus/en_read/ljspeech/LJ001-0001.wav");
    let dropped = shared.join("corpus/jfk.flac");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve_page.png");
    let script = r##"
import json, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
chromium, driver, url, mic, dropped, shot = sys.argv[1:7]
options = webdriver.ChromeOptions()
options.binary_location = chromium
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream", "--use-file-for-fake-audio-capture=" + mic,
            "--autoplay-policy=no-user-gesture-required", "--window-size=1200,1000"]:
    options.add_argument(arg)
browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
out = {}
try:
    browser.get(url)
    def wait(what, seconds):
        end = time.time() + seconds
        while time.time() < end:
            value = what()
            if value:
                return value
            time.sleep(0.2)
        return None
    out["model"] = wait(lambda: "tiny.en" in browser.find_element(By.ID, "model").text and browser.find_element(By.ID, "model").text, 30)
    browser.find_element(By.ID, "mic").click()
    # The fake microphone loops the file; stop once "exhibition" (its last word) is committed.
    wait(lambda: "exhibition" in browser.find_element(By.ID, "committed").text.lower(), 120)
    browser.find_element(By.ID, "stop").click()
    out["status"] = wait(lambda: browser.find_element(By.ID, "status").text == "done" and "done", 60)
    out["committed"] = browser.find_element(By.ID, "committed").text
    out["rounds"] = len(browser.find_elements(By.CSS_SELECTOR, "#rounds tr"))
    out["summary"] = browser.find_element(By.ID, "summary").text
    browser.save_screenshot(shot)
    browser.find_element(By.ID, "file").send_keys(dropped)
    out["file"] = wait(lambda: "jfk.flac:" in browser.find_element(By.ID, "status").text and browser.find_element(By.ID, "committed").text, 120)
    out["file_status"] = browser.find_element(By.ID, "status").text
finally:
    browser.quit()
print(json.dumps(out))
"##;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args([
            chromium.as_path(),
            driver.as_path(),
            Path::new(&url),
            &microphone,
            &dropped,
            &shot,
        ])
        .output()
        .unwrap();
    drop(server);
    assert!(
        out.status.success(),
        "selenium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let committed = got["committed"].as_str().unwrap().to_lowercase();
    for word in ["printing", "differs", "exhibition"] {
        assert!(
            committed.contains(word),
            "{word} not in the captions: {got}"
        );
    }
    assert_eq!(got["status"], "done", "{got}");
    assert!(got["rounds"].as_u64().unwrap() >= 2, "{got}");
    assert!(
        got["summary"].as_str().unwrap().contains("tokens per pass"),
        "{got}"
    );
    let file = got["file"].as_str().unwrap_or_default();
    assert!(file.starts_with("[0.0–"), "timed segments: {got}");
    assert!(
        file.to_lowercase().contains("ask not what your country"),
        "{got}"
    );
    assert!(
        got["file_status"].as_str().unwrap().contains("english"),
        "{got}"
    );
}
