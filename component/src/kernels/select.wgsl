// Quiver's GPU selection kernels: one invocation writes one 32-bit word of
// the selection bitmap (32 rows). The same source runs on wgpu natively and on
// WebGPU in browsers.
//
// WGSL has no 64-bit integers or f64: a 64-bit value is two u32 words (low,
// high), and every value is first mapped to an unsigned key whose order is
// SQL's order of the values (see component/src/kernels/keys.rs, which the CPU
// tiers use: the two must stay identical). Floats are never touched as floats,
// so GPU float modes (flushed subnormals, NaN handling) cannot change answers.
//
// A predicate is a sorted list of disjoint inclusive key intervals; a row is
// selected when its key lies in one of them and it is not NULL.

struct Params {
    // Rows in this dispatch.
    rows: u32,
    // Number of key intervals.
    intervals: u32,
    // 0: unsigned, 1: signed (two's complement), 2: IEEE float.
    encoding: u32,
    // 1 when `validity` holds a null mask (bit set = not NULL).
    has_validity: u32,
    // Invocations per row of workgroups (x workgroups × 64): word index is
    // x + y × stride, so dispatches can exceed the per-dimension limit.
    stride: u32,
}

@group(0) @binding(0) var<storage, read> params: Params;
// 32-bit: one word per row. 64-bit: two words per row, low word first.
@group(0) @binding(1) var<storage, read> values: array<u32>;
// 32-bit: (low, high) per interval. 64-bit: (low.lo, low.hi, high.lo, high.hi).
@group(0) @binding(2) var<storage, read> intervals: array<u32>;
@group(0) @binding(3) var<storage, read> validity: array<u32>;
@group(0) @binding(4) var<storage, read_write> selection: array<u32>;

fn key32(bits: u32) -> u32 {
    if (params.encoding == 0u) {
        return bits;
    }
    if (params.encoding == 1u) {
        return bits ^ 0x80000000u;
    }
    var b = bits;
    let magnitude = b & 0x7fffffffu;
    if (magnitude > 0x7f800000u) {
        b = 0x7fc00000u; // every NaN is one NaN
    }
    if (magnitude == 0u) {
        b = 0u; // -0.0 is 0.0
    }
    let negative = select(0u, 0xffffffffu, (b >> 31u) == 1u);
    return b ^ (negative | 0x80000000u);
}

fn key64(low: u32, high: u32) -> vec2<u32> {
    if (params.encoding == 0u) {
        return vec2<u32>(low, high);
    }
    if (params.encoding == 1u) {
        return vec2<u32>(low, high ^ 0x80000000u);
    }
    var lo = low;
    var hi = high;
    let magnitude = hi & 0x7fffffffu;
    if (magnitude > 0x7ff00000u || (magnitude == 0x7ff00000u && lo != 0u)) {
        hi = 0x7ff80000u;
        lo = 0u;
    }
    if (magnitude == 0u && lo == 0u) {
        hi = 0u;
    }
    let negative = select(0u, 0xffffffffu, (hi >> 31u) == 1u);
    return vec2<u32>(lo ^ negative, hi ^ (negative | 0x80000000u));
}

// a <= b for (low, high) pairs, compared high word first.
fn le64(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x <= b.x);
}

// Binary search for the last interval starting at or below k.
fn contains32(k: u32) -> bool {
    var first = 0u;
    var last = params.intervals;
    while (first < last) {
        let middle = (first + last) / 2u;
        if (intervals[2u * middle] <= k) {
            first = middle + 1u;
        } else {
            last = middle;
        }
    }
    return first > 0u && k <= intervals[2u * (first - 1u) + 1u];
}

fn contains64(k: vec2<u32>) -> bool {
    var first = 0u;
    var last = params.intervals;
    while (first < last) {
        let middle = (first + last) / 2u;
        let low = vec2<u32>(intervals[4u * middle], intervals[4u * middle + 1u]);
        if (le64(low, k)) {
            first = middle + 1u;
        } else {
            last = middle;
        }
    }
    if (first == 0u) {
        return false;
    }
    let i = first - 1u;
    return le64(k, vec2<u32>(intervals[4u * i + 2u], intervals[4u * i + 3u]));
}

fn finish(word: u32, bits: u32) {
    var masked = bits;
    if (params.has_validity == 1u) {
        masked = masked & validity[word];
    }
    selection[word] = masked;
}

// The bitmap word of an invocation and its number of rows (0 past the end).
fn word_of(id: vec3<u32>) -> vec2<u32> {
    let word = id.x + id.y * params.stride;
    if (word >= (params.rows + 31u) / 32u) {
        return vec2<u32>(word, 0u);
    }
    return vec2<u32>(word, min(32u, params.rows - word * 32u));
}

@compute @workgroup_size(64)
fn select32(@builtin(global_invocation_id) id: vec3<u32>) {
    let at = word_of(id);
    let word = at.x;
    let count = at.y;
    if (count == 0u) {
        return;
    }
    let first = word * 32u;
    var bits = 0u;
    for (var i = 0u; i < count; i = i + 1u) {
        if (contains32(key32(values[first + i]))) {
            bits = bits | (1u << i);
        }
    }
    finish(word, bits);
}

@compute @workgroup_size(64)
fn select64(@builtin(global_invocation_id) id: vec3<u32>) {
    let at = word_of(id);
    let word = at.x;
    let count = at.y;
    if (count == 0u) {
        return;
    }
    let first = word * 32u;
    var bits = 0u;
    for (var i = 0u; i < count; i = i + 1u) {
        let row = first + i;
        if (contains64(key64(values[2u * row], values[2u * row + 1u]))) {
            bits = bits | (1u << i);
        }
    }
    finish(word, bits);
}
