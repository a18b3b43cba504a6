//! The one place that asks the CPU what it can do. Every kernel dispatches on what this module
//! reports, so forcing a narrower instruction set (for a test, or to compare kernels) is one
//! environment variable: `WHISPER_SPEC_ISA=avx512|avx2|neon|portable`.

use std::sync::OnceLock;

/// The vector instruction set the f32 kernels run with. Each kernel compiles its body once per
/// variant (`#[target_feature]`), so the binary runs anywhere and uses what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 with FMA and F16C.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AArch64's Advanced SIMD (NEON): 32 registers of four floats, on every 64-bit ARM CPU.
    #[cfg(target_arch = "aarch64")]
    Neon,
    /// Plain Rust, whatever the compiler targets.
    Portable,
}

#[cfg(test)]
thread_local! {
    /// The ISA [`Isa::forced`] imposes on this thread.
    static FORCED: std::cell::Cell<Option<Isa>> = const { std::cell::Cell::new(None) };
}

/// What this CPU offers beyond the f32 vector width, as the kernels need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuFeatures {
    /// The f32 kernels' instruction set.
    pub(crate) isa: Isa,
    /// AVX-512 VNNI (`vpdpbusd`, with AVX-512BW): the 8-bit products.
    pub vnni: bool,
    /// AVX-512 BF16 (`vdpbf16ps`): the bf16 attention of `--quantize`.
    pub bf16: bool,
    /// AVX-VNNI or AVX-512 VNNI (reported; candle's repacked 4-bit kernels use it).
    pub any_vnni: bool,
    /// AVX2 with FMA.
    pub avx2: bool,
}

impl Isa {
    /// The variant the kernels use on this CPU: the widest it runs, unless `WHISPER_SPEC_ISA`
    /// asks for a narrower one.
    pub(crate) fn detect() -> Self {
        #[cfg(test)]
        if let Some(isa) = FORCED.with(std::cell::Cell::get) {
            return isa;
        }
        CpuFeatures::get().isa
    }

    /// Every variant this CPU runs, widest first (for tests that check each kernel body).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Isa> {
        let cpu = CpuFeatures::get();
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if cpu.isa == Isa::Avx512 {
                all.push(Isa::Avx512);
            }
            if cpu.avx2 {
                all.push(Isa::Avx2);
            }
        }
        #[cfg(target_arch = "aarch64")]
        if cpu.isa == Isa::Neon {
            all.push(Isa::Neon);
        }
        let _ = cpu;
        all.push(Isa::Portable);
        all
    }

    /// Runs `f` with [`detect`](Self::detect) answering `self` on this thread (tests only:
    /// kernels read the ISA on the calling thread before they fan out).
    #[cfg(test)]
    pub(crate) fn forced<R>(self, f: impl FnOnce() -> R) -> R {
        let before = FORCED.with(|c| c.replace(Some(self)));
        let r = f();
        FORCED.with(|c| c.set(before));
        r
    }
}

impl CpuFeatures {
    /// The features of this CPU, detected once (and narrowed by `WHISPER_SPEC_ISA`).
    pub fn get() -> Self {
        static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
        *FEATURES.get_or_init(|| {
            let found = Self::detected();
            match std::env::var("WHISPER_SPEC_ISA").ok().as_deref() {
                Some(name) => found.narrowed_to(name),
                None => found,
            }
        })
    }

    /// The instruction set and extensions the kernels use, for reports: `avx512+vnni+bf16`,
    /// `avx2`, `portable`, ...
    pub fn label(&self) -> String {
        let base = match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => "neon",
            Isa::Portable => "portable",
        };
        let mut label = base.to_string();
        for (present, name) in [(self.vnni, "vnni"), (self.bf16, "bf16")] {
            if present {
                label.push('+');
                label.push_str(name);
            }
        }
        if self.any_vnni && !self.vnni {
            label.push_str("+avx-vnni");
        }
        label
    }

    /// What the hardware reports, before any override.
    fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = is_x86_feature_detected!("fma");
            let avx512 = fma && is_x86_feature_detected!("avx512f");
            // F16C (on every AVX2 CPU in practice) widens half-precision weights.
            let avx2 = fma && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("f16c");
            let vnni = is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni");
            let avx_vnni = is_x86_feature_detected!("avxvnni") && is_x86_feature_detected!("avx2");
            let isa = if avx512 {
                Isa::Avx512
            } else if avx2 {
                Isa::Avx2
            } else {
                Isa::Portable
            };
            CpuFeatures {
                isa,
                vnni,
                bf16: is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bf16"),
                any_vnni: vnni || avx_vnni,
                avx2,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            // Advanced SIMD is part of every AArch64 CPU.
            #[cfg(target_arch = "aarch64")]
            let isa = Isa::Neon;
            #[cfg(not(target_arch = "aarch64"))]
            let isa = Isa::Portable;
            CpuFeatures {
                isa,
                vnni: false,
                bf16: false,
                any_vnni: false,
                avx2: false,
            }
        }
    }

    /// These features with everything wider than `name` turned off (an unknown name is ignored
    /// with a warning: the override is a testing aid, not a setting).
    fn narrowed_to(self, name: &str) -> Self {
        let portable = CpuFeatures {
            isa: Isa::Portable,
            vnni: false,
            bf16: false,
            any_vnni: false,
            avx2: false,
        };
        match name {
            "portable" => portable,
            #[cfg(target_arch = "x86_64")]
            "avx2" if self.avx2 => CpuFeatures {
                isa: Isa::Avx2,
                avx2: true,
                ..portable
            },
            #[cfg(target_arch = "aarch64")]
            "neon" => self,
            "avx512" | "native" => self,
            other => {
                tracing::warn!("WHISPER_SPEC_ISA={other} is not available here; using {self:?}");
                self
            }
        }
    }
}
