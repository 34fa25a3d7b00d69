/* The public page's challenge (proof of work, 公众渠道防刷验证), solved in this browser: find a
   counter such that SHA-256("<challenge>:<counter>") starts with the asked number of zero
   bits, put it in the form, send. SHA-256 by Web Crypto; where the page is not a secure
   context (plain HTTP off this machine) Web Crypto is missing, and the small SHA-256 below
   does it. Nothing is loaded from anywhere else. Without JavaScript the page says what to do. */
(function () {
  "use strict";
  var enc = new TextEncoder();

  function zeroBits(bytes) {
    var n = 0;
    for (var i = 0; i < bytes.length; i++) {
      var b = bytes[i];
      if (b === 0) { n += 8; continue; }
      while ((b & 0x80) === 0) { n++; b <<= 1; }
      return n;
    }
    return n;
  }

  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  /* SHA-256 (FIPS 180-4) of a Uint8Array, as a Uint8Array of 32 bytes. */
  function sha256(msg) {
    var h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    var len = msg.length, size = ((len + 9 + 63) >> 6) << 6;
    var m = new Uint8Array(size);
    m.set(msg);
    m[len] = 0x80;
    var hi = Math.floor(len / 0x20000000), lo = (len << 3) >>> 0;
    m[size - 8] = hi >>> 24; m[size - 7] = hi >>> 16; m[size - 6] = hi >>> 8; m[size - 5] = hi;
    m[size - 4] = lo >>> 24; m[size - 3] = lo >>> 16; m[size - 2] = lo >>> 8; m[size - 1] = lo;
    var w = new Uint32Array(64);
    for (var off = 0; off < size; off += 64) {
      var i;
      for (i = 0; i < 16; i++) {
        w[i] = ((m[off + 4 * i] << 24) | (m[off + 4 * i + 1] << 16) | (m[off + 4 * i + 2] << 8) | m[off + 4 * i + 3]) >>> 0;
      }
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        k = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] = (h[0] + a) >>> 0; h[1] = (h[1] + b) >>> 0; h[2] = (h[2] + c) >>> 0; h[3] = (h[3] + d) >>> 0;
      h[4] = (h[4] + e) >>> 0; h[5] = (h[5] + f) >>> 0; h[6] = (h[6] + g) >>> 0; h[7] = (h[7] + k) >>> 0;
    }
    var out = new Uint8Array(32);
    for (var j = 0; j < 8; j++) {
      out[4 * j] = h[j] >>> 24; out[4 * j + 1] = h[j] >>> 16; out[4 * j + 2] = h[j] >>> 8; out[4 * j + 3] = h[j];
    }
    return out;
  }

  function pause() { return new Promise(function (done) { setTimeout(done, 0); }); }

  /* The counter (a decimal string) that solves the challenge. */
  async function solve(challenge, bits, useWebCrypto) {
    var subtle = useWebCrypto === false ? null : (window.crypto && window.crypto.subtle);
    var batch = 256;
    for (var start = 0; start < 0x7fffffff; start += batch) {
      var i;
      if (subtle) {
        var jobs = [];
        for (i = start; i < start + batch; i++) { jobs.push(subtle.digest("SHA-256", enc.encode(challenge + ":" + i))); }
        var got = await Promise.all(jobs);
        for (i = 0; i < got.length; i++) {
          if (zeroBits(new Uint8Array(got[i])) >= bits) { return String(start + i); }
        }
      } else {
        for (i = start; i < start + batch; i++) {
          if (zeroBits(sha256(enc.encode(challenge + ":" + i))) >= bits) { return String(i); }
        }
        await pause();
      }
    }
    throw new Error("no solution");
  }

  function guard(form) {
    form.addEventListener("submit", function (event) {
      var answer = form.querySelector("input[name=pow_solution]");
      if (!answer || answer.value) { return; }
      event.preventDefault();
      var status = form.querySelector(".pow-status");
      var button = form.querySelector("button[type=submit]");
      if (status) { status.hidden = false; status.textContent = form.getAttribute("data-pow-working") || ""; }
      if (button) { button.disabled = true; }
      solve(form.getAttribute("data-pow"), parseInt(form.getAttribute("data-pow-bits"), 10)).then(function (found) {
        answer.value = found;
        form.submit();
      }, function () {
        if (button) { button.disabled = false; }
      });
    });
  }

  var forms = document.querySelectorAll("form[data-pow]");
  for (var i = 0; i < forms.length; i++) { guard(forms[i]); }
  window.anxinChallenge = { solve: solve, sha256: sha256, zeroBits: zeroBits };
})();
