import assert from "node:assert/strict";
import {
  CanonicalizationError,
  JsonNumber,
  MalformedJsonError,
  canonicalJson,
  compareCodePoints,
  parseLossless,
  prettyJson,
  pythonFloatRepr,
  pythonNumberToken,
  pythonStringLiteral,
} from "../../protocol/envelope/index.ts";

describe("envelope canonical JSON (Python json.dumps, sort_keys, compact)", () => {
  it("writes floats as Python's repr", () => {
    // Left: the JS number; right: what CPython 3 prints for repr(float(x)).
    const cases: [number, string][] = [
      [1, "1.0"], [0, "0.0"], [-0, "-0.0"], [0.1, "0.1"], [1e-5, "1e-05"], [0.0001, "0.0001"], [0.00012345, "0.00012345"],
      [1e16, "1e+16"], [1e15, "1000000000000000.0"], [123456789012345680, "1.2345678901234568e+17"], [1.5e300, "1.5e+300"],
      [5e-324, "5e-324"], [1.7976931348623157e308, "1.7976931348623157e+308"], [-2.5, "-2.5"], [1.698732790695847e-5, "1.698732790695847e-05"],
      [20.768586080521345, "20.768586080521345"], [NaN, "NaN"], [Infinity, "Infinity"], [-Infinity, "-Infinity"],
    ];
    for (const [x, py] of cases) assert.equal(pythonFloatRepr(x), py, `repr(${x})`);
  });

  it("re-emits number tokens as Python would after json.loads", () => {
    assert.equal(pythonNumberToken("1.0"), "1.0");
    assert.equal(pythonNumberToken("1"), "1");
    assert.equal(pythonNumberToken("-0"), "0");
    assert.equal(pythonNumberToken("1E5"), "100000.0");
    assert.equal(pythonNumberToken("1e400"), "Infinity");
    assert.equal(pythonNumberToken("0.000010"), "1e-05");
    assert.equal(pythonNumberToken("123456789012345678901234567890"), "123456789012345678901234567890");
    assert.throws(() => pythonNumberToken("01"), CanonicalizationError);
  });

  it("escapes strings as ensure_ascii does, astral characters as surrogate pairs", () => {
    assert.equal(pythonStringLiteral("plain"), '"plain"');
    assert.equal(pythonStringLiteral('q"b\\s/'), '"q\\"b\\\\s/"');
    assert.equal(pythonStringLiteral("\n\r\t\b\f\u0001\u007f"), '"\\n\\r\\t\\b\\f\\u0001\\u007f"');
    assert.equal(pythonStringLiteral("h\u00e9\u4e2d\u{1F600}"), '"h\\u00e9\\u4e2d\\ud83d\\ude00"');
  });

  it("sorts keys by code point, not by UTF-16 unit", () => {
    // U+FFFF sorts below U+1F600 in Python; UTF-16 order would put the surrogate 0xD83D first.
    assert.ok(compareCodePoints("\uffff", "\u{1F600}") < 0);
    assert.ok(compareCodePoints("a", "b") < 0);
    assert.ok(compareCodePoints("ab", "a") > 0);
    assert.equal(canonicalJson({ "\u{1F600}": 1, "\uffff": 2, b: [true, null], a: "x" }), '{"a":"x","b":[true,null],"\\uffff":2,"\\ud83d\\ude00":1}');
  });

  it("keeps 1.0 and 1 apart through a lossless parse (JSON.parse cannot)", () => {
    const text = '{"f": 1.0, "i": 1, "e": 1E-7, "big": 12345678901234567890}';
    assert.equal(canonicalJson(parseLossless(text)), '{"big":12345678901234567890,"e":1e-07,"f":1.0,"i":1}');
    assert.notEqual(canonicalJson(JSON.parse(text)), canonicalJson(parseLossless(text)));
    const tree = parseLossless(text) as Record<string, JsonNumber>;
    assert.equal(tree.f!.isInteger, false);
    assert.equal(tree.i!.isInteger, true);
    assert.equal(Number(tree.f), 1);
  });

  it("writes files whose lossless parse re-canonicalizes to the same bytes", () => {
    const value = { z: [1.5, 2, 1e-9, 1e21, -0.0], a: { "k\u00e9": "v\u{1F600}", n: null, t: false } };
    const pretty = prettyJson(value);
    assert.equal(canonicalJson(parseLossless(pretty)), canonicalJson(value));
  });

  it("treats a __proto__ key as data", () => {
    const tree = parseLossless('{"__proto__": {"polluted": 1}, "a": 2}') as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(tree), Object.prototype);
    assert.equal(canonicalJson(tree), '{"__proto__":{"polluted":1},"a":2}');
  });

  it("rejects malformed JSON with a typed error naming the offset", () => {
    const bad = ['{"a":1,"a":2}', '{"a":1', '{"a":1}x', "[1,]", '{"a":01}', '"\u0001"', '"\\x"', '"\\u12g4"', "", "tru", "[" .repeat(300) + "]".repeat(300), "-", "1.", ".5"];
    for (const text of bad) {
      assert.throws(() => parseLossless(text), (e: unknown) => e instanceof MalformedJsonError && /offset \d+/.test(e.message), `should reject ${JSON.stringify(text.slice(0, 20))}`);
    }
    assert.throws(() => parseLossless("NaN", { allowNonFinite: false }), MalformedJsonError);
    assert.equal(canonicalJson(parseLossless("[NaN,-Infinity]")), "[NaN,-Infinity]");
  });

  it("refuses values JSON cannot hold", () => {
    assert.throws(() => canonicalJson({ f: () => 1 }), (e: unknown) => e instanceof CanonicalizationError && e.field === "/f");
    assert.throws(() => canonicalJson([Symbol("s")]), CanonicalizationError);
  });
});
