/* The receipt page's own check (每一笔可验证), in this browser, from the evidence the page
   carries and the receipt URL in the address bar — never from the server's verdict, which
   this script does not read. The same checks, in the same order, as anxin.receipt.check
   (the server and `anxin receipt verify`): the sale is the one the receipt's digest names;
   the metering record's signature (Ed25519 by Web Crypto, SM2 with SM3 by the verifier
   below, GB/T 32918) over its canonical bytes (contract v1.1 §E); the record is the
   sale's; volume, amount, the record's arithmetic, flow, totalizer continuity, sequence.
   SHA-256 is public.js's (window.anxinChallenge.sha256). Nothing is loaded from elsewhere. */
(function () {
  "use strict";
  var enc = new TextEncoder();
  var METHODS = { wechat: 1, alipay: 1, unionpay: 1, cash: 1, fuel_card: 1 };
  var PUBLIC = ["station_id", "order_id", "nozzle_id", "pump_seq", "ts", "volume_ml", "unit_price_fen", "amount_fen", "payment"];
  var NONCE = /^[A-Za-z0-9_-]{8,64}$/;

  /* ---------------------------------------------------------------- canonical bytes (§E) */
  function canonical(v) {
    if (v === null || typeof v === "boolean") { return String(v); }
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) { throw new Error("not an integer"); }
      return String(v);
    }
    if (typeof v === "string") { return JSON.stringify(v); }
    if (Array.isArray(v)) { return "[" + v.map(canonical).join(",") + "]"; }
    var keys = Object.keys(v).sort();
    return "{" + keys.map(function (k) { return JSON.stringify(k) + ":" + canonical(v[k]); }).join(",") + "}";
  }

  function publicSale(s) {
    var out = {};
    PUBLIC.forEach(function (k) { out[k] = s[k] === undefined ? null : s[k]; });
    out.payment = typeof s.payment === "string" && METHODS.hasOwnProperty(s.payment) ? s.payment : "other";
    if (typeof s.receipt_nonce === "string" && NONCE.test(s.receipt_nonce)) { out.receipt_nonce = s.receipt_nonce; }
    return out;
  }

  function base32(bytes) {
    var abc = "abcdefghijklmnopqrstuvwxyz234567", out = "", bits = 0, acc = 0;
    for (var i = 0; i < bytes.length; i++) {
      acc = (acc << 8) | bytes[i]; bits += 8;
      while (bits >= 5) { out += abc[(acc >>> (bits - 5)) & 31]; bits -= 5; }
    }
    if (bits > 0) { out += abc[(acc << (5 - bits)) & 31]; }
    return out;
  }

  function saleDigest(sale) {
    var body = enc.encode("anxin-receipt-v1\n" + canonical(sale));
    return base32(window.anxinChallenge.sha256(body).slice(0, 10));
  }

  /* An RFC 3339 time as ms since the epoch, fractions kept (NaN: not one); any number of fractional digits. */
  var RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
  function parseTs(ts) {
    var m = typeof ts === "string" ? RFC3339.exec(ts) : null;
    if (!m) { return NaN; }
    var off = m[9] ? (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60000 : 0;
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - off + (m[7] ? Number("0" + m[7]) * 1000 : 0);
  }

  function localDay(ts) {
    var t = parseTs(ts);
    if (isNaN(t)) { return ""; }
    var d = new Date(t + 8 * 3600 * 1000);
    var p = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getUTCFullYear() + p(d.getUTCMonth() + 1) + p(d.getUTCDate());
  }

  function receiptFromLocation(path) {
    var parts = path.split("/"), at = parts.indexOf("r");
    if (at < 0 || parts.length !== at + 4) { return null; }
    var tail = decodeURIComponent(parts[at + 3]).split("-");
    return { station_id: decodeURIComponent(parts[at + 1]), order_id: decodeURIComponent(parts[at + 2]), day: tail[0], digest: tail[1] };
  }

  /* ---------------------------------------------------------------- bytes */
  /* Strict base64, as the platform reads a signature (no whitespace, no stray padding). */
  function fromB64(s) {
    if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) { throw new Error("base64"); }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function fromHex(s) {
    if (!/^([0-9a-fA-F]{2})*$/.test(s)) { throw new Error("hex"); }
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(s.substr(2 * i, 2), 16); }
    return out;
  }
  function toBig(bytes) {
    var h = "0x0";
    for (var i = 0; i < bytes.length; i++) { h += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); }
    return BigInt(h);
  }
  function toBytes32(n) {
    var h = n.toString(16); while (h.length < 64) { h = "0" + h; }
    return fromHex(h);
  }
  function concat(list) {
    var n = 0; list.forEach(function (a) { n += a.length; });
    var out = new Uint8Array(n), off = 0;
    list.forEach(function (a) { out.set(a, off); off += a.length; });
    return out;
  }

  /* ---------------------------------------------------------------- SM3 (GB/T 32905) */
  function rotl(x, n) { n %= 32; return ((x << n) | (x >>> (32 - n))) >>> 0; }
  function sm3(msg) {
    var v = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
    var len = msg.length, size = ((len + 9 + 63) >> 6) << 6, m = new Uint8Array(size);
    m.set(msg); m[len] = 0x80;
    var hi = Math.floor(len / 0x20000000), lo = (len << 3) >>> 0;
    m[size - 8] = hi >>> 24; m[size - 7] = hi >>> 16; m[size - 6] = hi >>> 8; m[size - 5] = hi;
    m[size - 4] = lo >>> 24; m[size - 3] = lo >>> 16; m[size - 2] = lo >>> 8; m[size - 1] = lo;
    var w = new Array(68), w1 = new Array(64);
    for (var off = 0; off < size; off += 64) {
      var j;
      for (j = 0; j < 16; j++) { w[j] = ((m[off + 4 * j] << 24) | (m[off + 4 * j + 1] << 16) | (m[off + 4 * j + 2] << 8) | m[off + 4 * j + 3]) >>> 0; }
      for (j = 16; j < 68; j++) {
        var x = (w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) >>> 0;
        w[j] = (x ^ rotl(x, 15) ^ rotl(x, 23) ^ rotl(w[j - 13], 7) ^ w[j - 6]) >>> 0;
      }
      for (j = 0; j < 64; j++) { w1[j] = (w[j] ^ w[j + 4]) >>> 0; }
      var a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
      for (j = 0; j < 64; j++) {
        var t = j < 16 ? 0x79cc4519 : 0x7a879d8a;
        var ss1 = rotl((rotl(a, 12) + e + rotl(t, j)) >>> 0, 7);
        var ss2 = (ss1 ^ rotl(a, 12)) >>> 0;
        var ff = j < 16 ? (a ^ b ^ c) : ((a & b) | (a & c) | (b & c));
        var gg = j < 16 ? (e ^ f ^ g) : ((e & f) | (~e & g));
        var tt1 = ((ff >>> 0) + d + ss2 + w1[j]) >>> 0;
        var tt2 = ((gg >>> 0) + h + ss1 + w[j]) >>> 0;
        d = c; c = rotl(b, 9); b = a; a = tt1;
        h = g; g = rotl(f, 19); f = e; e = (tt2 ^ rotl(tt2, 9) ^ rotl(tt2, 17)) >>> 0;
      }
      v = [v[0] ^ a, v[1] ^ b, v[2] ^ c, v[3] ^ d, v[4] ^ e, v[5] ^ f, v[6] ^ g, v[7] ^ h].map(function (z) { return z >>> 0; });
    }
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) { out[4 * i] = v[i] >>> 24; out[4 * i + 1] = v[i] >>> 16; out[4 * i + 2] = v[i] >>> 8; out[4 * i + 3] = v[i]; }
    return out;
  }

  /* ---------------------------------------------------------------- SM2 verification (GB/T 32918.2) */
  var P = BigInt("0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF");
  var A = P - 3n;
  var B = BigInt("0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
  var N = BigInt("0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
  var GX = BigInt("0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
  var GY = BigInt("0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");
  function md(a) { a %= P; return a < 0n ? a + P : a; }
  function pow(b, e) { var r = 1n; b = md(b); while (e > 0n) { if (e & 1n) { r = md(r * b); } b = md(b * b); e >>= 1n; } return r; }
  function dbl(p) {
    if (p === null || p[1] === 0n) { return null; }
    var x = p[0], y = p[1], z = p[2];
    var delta = md(z * z), gamma = md(y * y), beta = md(x * gamma);
    var alpha = md(3n * (x - delta) * (x + delta));
    var x3 = md(alpha * alpha - 8n * beta);
    var z3 = md((y + z) * (y + z) - gamma - delta);
    var y3 = md(alpha * (4n * beta - x3) - 8n * gamma * gamma);
    return [x3, y3, z3];
  }
  function add(p, q) {
    if (p === null) { return q; }
    if (q === null) { return p; }
    var z1z1 = md(p[2] * p[2]), z2z2 = md(q[2] * q[2]);
    var u1 = md(p[0] * z2z2), u2 = md(q[0] * z1z1);
    var s1 = md(p[1] * q[2] * z2z2), s2 = md(q[1] * p[2] * z1z1);
    if (u1 === u2) { return s1 === s2 ? dbl(p) : null; }
    var h = md(u2 - u1), r = md(s2 - s1), hh = md(h * h), hhh = md(hh * h);
    var x3 = md(r * r - hhh - 2n * u1 * hh);
    var y3 = md(r * (u1 * hh - x3) - s1 * hhh);
    return [x3, y3, md(h * p[2] * q[2])];
  }
  function affine(p) {
    if (p === null) { return null; }
    var zi = pow(p[2], P - 2n), zi2 = md(zi * zi);
    return [md(p[0] * zi2), md(p[1] * zi2 * zi)];
  }
  function sm2Verify(publicHex, message, sig) {
    var pk = fromHex(publicHex);
    if (pk.length !== 65 || pk[0] !== 4 || sig.length !== 64) { return false; }
    var px = toBig(pk.slice(1, 33)), py = toBig(pk.slice(33));
    if (px >= P || py >= P || md(py * py - (px * px * px + A * px + B)) !== 0n) { return false; }
    var r = toBig(sig.slice(0, 32)), s = toBig(sig.slice(32));
    if (r < 1n || r >= N || s < 1n || s >= N) { return false; }
    var t = (r + s) % N;
    if (t === 0n) { return false; }
    var id = enc.encode("1234567812345678");
    var za = sm3(concat([new Uint8Array([(id.length * 8) >> 8, (id.length * 8) & 255]), id,
      toBytes32(A), toBytes32(B), toBytes32(GX), toBytes32(GY), toBytes32(px), toBytes32(py)]));
    var e = toBig(sm3(concat([za, message])));
    // s·G + t·P by Shamir's trick
    var g = [GX, GY, 1n], q = [px, py, 1n], gq = add(g, q), acc = null;
    for (var i = 255; i >= 0; i--) {
      acc = dbl(acc);
      var bs = (s >> BigInt(i)) & 1n, bt = (t >> BigInt(i)) & 1n;
      if (bs && bt) { acc = add(acc, gq); } else if (bs) { acc = add(acc, g); } else if (bt) { acc = add(acc, q); }
    }
    var pt = affine(acc);
    return pt !== null && (e + pt[0]) % N === r;
  }

  /* ---------------------------------------------------------------- signatures */
  async function verifySig(alg, publicKey, message, sig) {
    if (alg === "sm2") { return sm2Verify(publicKey, message, sig) ? "ok" : "bad_signature"; }
    if (alg !== "ed25519") { return "unknown_key"; }
    var subtle = window.crypto && window.crypto.subtle;
    if (!subtle) { return "no_webcrypto"; }
    var key;
    try {
      key = await subtle.importKey("raw", fromB64(publicKey), { name: "Ed25519" }, false, ["verify"]);
    } catch (err) {
      return err && err.name === "NotSupportedError" ? "no_webcrypto" : "bad_signature";
    }
    return (await subtle.verify({ name: "Ed25519" }, key, sig, message)) ? "ok" : "bad_signature";
  }

  /* [the record or null, why ("" when it verifies)] */
  async function signedRecord(item) {
    if (!item || typeof item.canonical !== "string") { return [null, "missing"]; }
    var rec;
    try { rec = JSON.parse(item.canonical); } catch (err) { return [null, "not_json"]; }
    if (!rec || typeof rec !== "object" || Array.isArray(rec) || "sig" in rec) { return [null, "not_json"]; }
    try { if (canonical(rec) !== item.canonical) { return [rec, "not_canonical"]; } } catch (err) { return [rec, "not_canonical"]; }
    if (!item.alg || !item.public_key) { return [rec, "unknown_key"]; }
    var sig;
    try { sig = fromB64(String(item.sig || "")); } catch (err) { return [rec, "bad_signature"]; }
    var why;
    try { why = await verifySig(item.alg, item.public_key, enc.encode(item.canonical), sig); } catch (err) { why = "bad_signature"; }
    return [rec, why === "ok" ? "" : why];
  }

  /* ---------------------------------------------------------------- the checks */
  function isInt(v) { return typeof v === "number" && Number.isSafeInteger(v); }
  function halfUp(num, den) { return (2n * num + den) / (2n * den); }
  function us(ts) { return parseTs(ts); }
  function F(name, status, why, params) { return { name: name, status: status, why: why || "", params: params || {} }; }

  async function check(bundle, receipt) {
    var out = [];
    var raw = bundle && bundle.sale;
    if (!raw || typeof raw !== "object") { return [F("digest", "fail", "no_sale")]; }
    var sale = publicSale(raw);
    var same;
    try { same = canonical(sale) === canonical(raw); } catch (err) { same = false; }
    if (!same) { return [F("digest", "fail", "no_sale")]; }
    var digestOk;
    try { digestOk = saleDigest(sale) === receipt.digest; } catch (err) { digestOk = false; }
    if (!digestOk || sale.station_id !== receipt.station_id || sale.order_id !== receipt.order_id || localDay(String(sale.ts)) !== receipt.day) {
      return [F("digest", "fail", "digest")];
    }
    out.push(F("digest", "ok"));
    var got = await signedRecord(bundle.metering), rec = got[0];
    if (got[1]) { out.push(F("signature", got[1] === "no_webcrypto" ? "cannot" : "fail", got[1])); return out; }
    out.push(F("signature", "ok"));
    var paired = rec.kind === "metering" && rec.station_id === sale.station_id && rec.nozzle_id === sale.nozzle_id;
    if (paired && sale.pump_seq !== null) { paired = rec.seq === sale.pump_seq; }
    if (paired && sale.pump_seq === null) {
      var end = us(rec.end), ts = us(sale.ts);
      paired = !isNaN(end) && !isNaN(ts) && end <= ts && ts <= end + 15 * 60000;
    }
    if (!paired) { out.push(F("paired", "fail", "not_paired")); return out; }
    out.push(F("paired", "ok"));
    if (![rec.volume_ml, sale.volume_ml, sale.unit_price_fen, sale.amount_fen].every(isInt)) {
      out.push(F("volume", "fail", "not_numbers")); return out;
    }
    var metered = BigInt(rec.volume_ml), sold = BigInt(sale.volume_ml);
    var diff = sold > metered ? sold - metered : metered - sold;
    out.push(diff > 10n ? F("volume", "fail", "volume", { sold_ml: sale.volume_ml, metered_ml: rec.volume_ml }) : F("volume", "ok"));
    var expected = halfUp(sold * BigInt(sale.unit_price_fen), 1000n), amount = BigInt(sale.amount_fen);
    var off = amount > expected ? amount - expected : expected - amount;
    out.push(off > 1n ? F("amount", "fail", "amount", { expected_fen: Number(expected) }) : F("amount", "ok"));
    if (![rec.pulses, rec.k_pulses_per_m3, rec.totalizer_start_ml, rec.totalizer_end_ml].every(isInt) || rec.k_pulses_per_m3 <= 0) {
      out.push(F("arithmetic", "fail", "not_numbers"));
    } else {
      var k = BigInt(rec.k_pulses_per_m3), d = metered * k - BigInt(rec.pulses) * 1000000n;
      var good = (d < 0n ? -d : d) <= k && BigInt(rec.totalizer_end_ml) - BigInt(rec.totalizer_start_ml) === metered;
      out.push(good ? F("arithmetic", "ok") : F("arithmetic", "fail", "arithmetic"));
    }
    var t0 = us(rec.start), t1 = us(rec.end), top = bundle.max_flow_ml_per_min;
    if (isNaN(t0) || isNaN(t1) || t1 <= t0) {
      out.push(F("flow", "fail", "no_duration"));
    } else if (!isInt(top) || top <= 0) {
      out.push(F("flow", "na", "no_max_flow"));
    } else {
      var flow = rec.volume_ml * 60000 / (t1 - t0);
      out.push(flow <= top * 1.1 ? F("flow", "ok") : F("flow", "fail", "flow", { flow: Math.round(flow), most: top }));
    }
    return out.concat(await sequence(bundle, rec));
  }

  async function sequence(bundle, rec) {
    if (bundle.previous === null || bundle.previous === undefined) { return [F("continuity", "na", "first"), F("sequence", "na", "first")]; }
    var got = await signedRecord(bundle.previous), prev = got[0];
    if (got[1] || !prev || prev.kind !== "metering" || prev.nozzle_id !== rec.nozzle_id) {
      return [F("continuity", "fail", "previous_unsigned"), F("sequence", "fail", "previous_unsigned")];
    }
    var out = [prev.totalizer_end_ml === rec.totalizer_start_ml ? F("continuity", "ok")
      : F("continuity", "fail", "jump", { previous_ml: prev.totalizer_end_ml, start_ml: rec.totalizer_start_ml })];
    var seqs = [prev.seq], between = bundle.between === undefined || bundle.between === null ? [] : bundle.between;
    if (!Array.isArray(between) || between.length > 16) { out.push(F("sequence", "fail", "gap")); return out; }
    for (var i = 0; i < between.length; i++) {
      var ev = await signedRecord(between[i]);
      if (ev[1] || !ev[0] || ev[0].kind !== "event" || ev[0].nozzle_id !== rec.nozzle_id) { out.push(F("sequence", "fail", "previous_unsigned")); return out; }
      seqs.push(ev[0].seq);
    }
    seqs.push(rec.seq);
    var ok = seqs.every(isInt);
    for (var j = 1; ok && j < seqs.length; j++) { ok = seqs[j] === seqs[j - 1] + 1; }
    out.push(ok ? F("sequence", "ok") : F("sequence", "fail", "gap", { previous: seqs[0], seq: seqs[seqs.length - 1] }));
    return out;
  }

  /* ---------------------------------------------------------------- the page */
  function fill(template, params) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return params.hasOwnProperty(k) ? String(params[k]) : "—"; });
  }

  async function run() {
    var box = document.getElementById("browser-verdict");
    var data = document.getElementById("receipt-bundle"), wordsEl = document.getElementById("receipt-words");
    if (!box || !data || !wordsEl) { return; }
    var w = JSON.parse(wordsEl.textContent), line = box.querySelector(".verdict-line"), list = box.querySelector(".checks");
    var findings;
    try {
      var receipt = receiptFromLocation(window.location.pathname);
      findings = receipt ? await check(JSON.parse(data.textContent), receipt) : [F("digest", "fail", "digest")];
    } catch (err) {
      findings = [F("digest", "fail", "no_sale")];
    }
    var cannot = findings.some(function (f) { return f.status === "cannot"; });
    var verified = !cannot && findings.every(function (f) { return f.status === "ok" || f.status === "na"; });
    var verdict = verified ? "verified" : (cannot ? "cannot" : "not_verified");
    line.setAttribute("data-verdict", verdict);
    line.textContent = w[verdict];
    box.className = "verdict " + (verified ? "good" : "bad");
    list.textContent = "";
    findings.forEach(function (f) {
      var li = document.createElement("li");
      li.className = f.status;
      var why = f.why ? w.sep + fill(w["why_" + f.why] || f.why, f.params) : "";
      li.textContent = (w["status_" + f.status] || "") + " " + w["check_" + f.name] + why;
      list.appendChild(li);
    });
  }

  window.anxinReceipt = { canonical: canonical, localDay: localDay, parseTs: parseTs, sm3: sm3, sm2Verify: sm2Verify, verifySig: verifySig, saleDigest: saleDigest, check: check, fromHex: fromHex, fromB64: fromB64 };
  run();
})();
