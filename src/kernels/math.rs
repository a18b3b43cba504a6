//! Small numeric helpers shared by the decoder kernels and the token filters.

/// exp(x) for x <= 0, to about 1 ulp, in plain arithmetic so that loops over it vectorise
/// (`f32::exp` is a libm call per element, slow over a 51865-logit row). x = n ln2 + r with |r| <= ln2/2; exp(r) by the classic minimax polynomial of
/// Cephes' expf; 2^n built in the exponent bits. Below -87.3 (and at -inf) it returns 0.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const MIN_X: f32 = -87.336_55; // ln(f32::MIN_POSITIVE): 2^n stays a normal number
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let clamped = x.clamp(MIN_X, 0.0);
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let exp_r = p * r * r + r + 1.0;
    // The low mantissa bits of `shifted` hold n (two's complement, since |n| < 2^22).
    let n_bits = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let two_n = f32::from_bits(((n_bits + 127) << 23) as u32);
    if x < MIN_X { 0.0 } else { exp_r * two_n }
}

/// The logistic function `1 / (1 + e^-x)` with [`exp_nonpositive`] (of `-|x|`, so it never
/// overflows), in plain arithmetic so that loops over it vectorise.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x >= 0.0 { r } else { e * r }
}

/// tanh(x) as `(1 - e) / (1 + e)` with `e = e^(-2|x|)` from [`exp_nonpositive`], the sign of
/// `x`: to a few 1e-8 absolute, in plain arithmetic so that loops over it vectorise.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let e = exp_nonpositive(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// erf(x) to about 2e-7 absolute (the last bit or two of an f32 near 1), in plain arithmetic
/// so that loops over it vectorise (libm's `erff` per element was a visible share of a whole
/// transcription: every GELU of the encoder and decoder MLPs). Two fits, both least-squares on
/// Chebyshev bases in f64 and checked in f32 against libm in the tests: `x * P(x^2)` for
/// |x| <= 1, and `1 - exp(Q(|x|))` with Q fitted to log(erfc) on 1..4; beyond 4, erf is 1 in
/// f32.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: [f32; 7] = [
        std::f32::consts::FRAC_2_SQRT_PI,
        -0.376_126_3,
        0.112_836_35,
        -0.026_856_07,
        0.005_192_958,
        -0.000_805_375_1,
        0.000_080_068_74,
    ];
    const Q: [f32; 9] = [
        0.000_306_092_54,
        -1.130_181,
        -0.631_908_5,
        -0.110_009_06,
        0.026_384_37,
        -0.004_747_866_5,
        0.000_594_549_7,
        -0.000_045_818_575,
        0.000_001_626_399,
    ];
    let a = x.abs().min(4.0);
    let t = a * a;
    let mut p = P[6];
    for &c in P[..6].iter().rev() {
        p = p * t + c;
    }
    let mut q = Q[8];
    for &c in Q[..8].iter().rev() {
        q = q * a + c;
    }
    let small = a * p;
    let large = 1.0 - exp_nonpositive(q.min(0.0));
    let r = if a <= 1.0 { small } else { large };
    r.copysign(x)
}

/// GELU as Whisper defines it, `0.5 x (1 + erf(x / sqrt 2))`, with [`erf`].
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// [`gelu`] over a slice in place, compiled for the widest vector unit the CPU has.
pub fn gelu_in_place(xs: &mut [f32]) {
    match crate::kernels::Isa::detect() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: detect() saw the features.
        crate::kernels::Isa::Avx512 => unsafe { gelu_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        crate::kernels::Isa::Avx2 => unsafe { gelu_avx2(xs) },
        // Portable, and NEON: the AArch64 baseline, which the plain loop vectorises with.
        _ => {
            for x in xs {
                *x = gelu(*x);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn gelu_avx512(xs: &mut [f32]) {
    for x in xs {
        *x = gelu(*x);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(xs: &mut [f32]) {
    for x in xs {
        *x = gelu(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_is_accurate() {
        let mut worst = 0f64;
        let mut x = 0f32;
        while x > -87.0 {
            let exact = f64::from(x).exp();
            let rel = ((f64::from(exp_nonpositive(x)) - exact) / exact).abs();
            worst = worst.max(rel);
            x -= 0.001_37;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_nonpositive(-100.0), 0.0);
    }

    #[test]
    fn sigmoid_and_tanh_match_libm() {
        let (mut worst_sigmoid, mut worst_tanh) = (0f64, 0f64);
        let mut x = -30f32;
        while x < 30.0 {
            let xd = f64::from(x);
            let sigmoid_exact = 1.0 / (1.0 + (-xd).exp());
            worst_sigmoid = worst_sigmoid.max((f64::from(sigmoid(x)) - sigmoid_exact).abs());
            worst_tanh = worst_tanh.max((f64::from(tanh(x)) - xd.tanh()).abs());
            x += 0.000_71;
        }
        assert!(
            worst_sigmoid < 1e-7,
            "sigmoid: worst absolute error {worst_sigmoid}"
        );
        assert!(worst_tanh < 2e-7, "tanh: worst absolute error {worst_tanh}");
        assert_eq!((sigmoid(0.0), tanh(0.0)), (0.5, 0.0));
        assert_eq!((sigmoid(-200.0), sigmoid(200.0)), (0.0, 1.0));
        assert_eq!((tanh(-200.0), tanh(200.0)), (-1.0, 1.0));
        assert!(sigmoid(f32::NAN).is_nan() && tanh(f32::NAN).is_nan());
    }

    #[test]
    fn erf_and_gelu_match_libm() {
        let mut worst = 0f64;
        let mut x = -6f32;
        while x < 6.0 {
            let exact = libm::erf(f64::from(x));
            worst = worst.max((f64::from(erf(x)) - exact).abs());
            x += 0.000_37;
        }
        assert!(worst < 3e-7, "erf: worst absolute error {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), 1.0);
        assert_eq!(erf(-10.0), -1.0);
        assert!(gelu(f32::NAN).is_nan());
        let mut xs: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) / 61.0).collect();
        let want: Vec<f64> = xs
            .iter()
            .map(|&x| 0.5 * f64::from(x) * (1.0 + libm::erf(f64::from(x) / 2f64.sqrt())))
            .collect();
        gelu_in_place(&mut xs);
        for (got, want) in xs.iter().zip(&want) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-6 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
        }
    }
}
