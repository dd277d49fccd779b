// Verifies the borrower's ledger bundle in the browser: RFC 9162 inclusion proofs with WebCrypto
// SHA-256 (leaf = H(0x00 || entry), node = H(0x01 || left || right)), the C2SP signed-note
// checkpoint's Ed25519 signature, the details digests (RFC 8785 JSON) and that each row on the
// page shows what its entry says. Formats: docs/ledger.md. No network access but the bundle.
"use strict";

(function () {
  const section = document.getElementById("verify");
  if (!section) return;
  const button = document.getElementById("verify-button");
  const status = document.getElementById("verify-status");
  const enc = new TextEncoder();

  function msg(name, values) {
    let text = section.dataset[name] || name;
    for (const [k, v] of Object.entries(values || {})) text = text.split("%(" + k + ")s").join(String(v));
    return text;
  }

  function b64(text) {
    const bin = atob(text);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }

  function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }

  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  const leafHash = (body) => sha256(concat(Uint8Array.of(0), enc.encode(body)));
  const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  // RFC 9162 section 2.1.3.2.
  async function verifyInclusion(index, size, leaf, proof, root) {
    if (!(index >= 0 && index < size)) throw new Error("leaf index outside the tree");
    let fn = index, sn = size - 1, r = leaf;
    for (const p of proof) {
      if (sn === 0) throw new Error("inclusion proof too long");
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    if (sn !== 0) throw new Error("inclusion proof too short");
    if (!equal(r, root)) throw new Error("inclusion proof does not lead to the checkpoint root");
  }

  // RFC 8785: keys sorted by UTF-16 code units, ECMAScript number and string serialisation.
  function jcs(v) {
    if (v === null || typeof v === "boolean" || typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number") { if (!isFinite(v)) throw new Error("number not allowed"); return JSON.stringify(v); }
    if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
  }

  function parseKey(vkey) {
    const a = vkey.indexOf("+"), b = vkey.indexOf("+", a + 1);
    if (a <= 0 || b < 0) throw new Error("malformed log key");
    const raw = b64(vkey.slice(b + 1));
    if (raw.length !== 33 || raw[0] !== 0x01) throw new Error("log key is not an Ed25519 note key");
    return { name: vkey.slice(0, a), keyId: vkey.slice(a + 1, b).toLowerCase(), pub: raw.slice(1) };
  }

  function parseNote(text) {
    const sep = text.lastIndexOf("\n\n");
    if (sep < 0 || !text.endsWith("\n")) throw new Error("checkpoint has no signatures");
    const body = text.slice(0, sep + 1);
    const lines = body.split("\n");
    if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("malformed checkpoint");
    const root = b64(lines[2]);
    if (root.length !== 32) throw new Error("checkpoint root is not a 32-byte hash");
    const sigs = text.slice(sep + 2, -1).split("\n").map((line) => {
      if (!line.startsWith("\u2014 ")) throw new Error("malformed signature line");
      const parts = line.slice(2).split(" ");
      const raw = b64(parts[1] || "");
      return { name: parts[0], keyId: hex(raw.slice(0, 4)), sig: raw.slice(4) };
    });
    return { body, origin: lines[0], size: Number(lines[1]), root, sigs };
  }

  // Returns true (verified), or null when this browser has no Ed25519 in WebCrypto.
  async function verifySignature(cp, key) {
    if (cp.origin !== key.name) throw new Error("checkpoint is from another log");
    const id = hex((await sha256(concat(enc.encode(key.name), Uint8Array.of(0x0a, 0x01), key.pub))).slice(0, 4));
    if (id !== key.keyId) throw new Error("log key id does not match the key");
    const line = cp.sigs.find((s) => s.name === key.name && s.keyId === id);
    if (!line || line.sig.length !== 64) throw new Error("no signature by the log key");
    let pub;
    try {
      pub = await crypto.subtle.importKey("raw", key.pub, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return null;
    }
    return crypto.subtle.verify({ name: "Ed25519" }, pub, line.sig, enc.encode(cp.body));
  }

  async function checkEntry(item, cp) {
    if (typeof item.seq !== "number" || typeof item.body !== "string") throw new Error("malformed entry");
    if (item.tree_size !== cp.size) throw new Error("proof is for another tree size");
    const body = JSON.parse(item.body);
    if (body.seq !== item.seq) throw new Error("entry does not carry its sequence number");
    if (item.details && Object.keys(item.details).length) {
      if (hex(await sha256(enc.encode(jcs(item.details)))) !== body.details_digest) throw new Error("details do not match their digest");
    }
    await verifyInclusion(item.seq, cp.size, await leafHash(item.body), (item.inclusion_proof || []).map(b64), cp.root);
    return body;
  }

  function mark(row, ok, text) {
    const cell = row.querySelector("[data-verify-status]");
    cell.classList.remove("verified", "failed");
    cell.classList.add(ok ? "verified" : "failed");
    cell.textContent = text;
    row.dataset.verified = ok ? "true" : "false";
  }

  async function run() {
    button.disabled = true;
    delete section.dataset.result;
    status.textContent = msg("msgChecking");
    const rows = new Map(Array.from(document.querySelectorAll("tr[data-seq]"), (r) => [Number(r.dataset.seq), r]));
    let failed = 0, verified = 0;
    try {
      const resp = await fetch("/portal/timeline/bundle.json", { credentials: "same-origin", cache: "no-store" });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      const bundle = await resp.json();
      if (bundle.format !== "lendshield-ledger-bundle/v1") throw new Error("not a LendShield bundle");
      const cp = parseNote(String(bundle.checkpoint));
      const signed = await verifySignature(cp, parseKey(section.dataset.logKey));
      if (signed === false) {
        for (const row of rows.values()) mark(row, false, msg("msgFailed"));
        status.textContent = msg("msgBadSignature");
        section.dataset.result = "failed";
        return;
      }
      const seen = new Set();
      for (const item of bundle.entries || []) {
        const row = rows.get(item.seq);
        try {
          const body = await checkEntry(item, cp);
          seen.add(item.seq);
          if (!row) continue;
          if (row.dataset.action !== body.action || row.dataset.time !== body.time) throw new Error(msg("msgPageDiffers"));
          mark(row, true, msg("msgVerified") + " \u2713");
          verified++;
        } catch (e) {
          failed++;
          if (row) mark(row, false, msg("msgFailed") + ": " + e.message);
        }
      }
      for (const [seq, row] of rows) {
        if (!seen.has(seq) && row.dataset.verified !== "false") { failed++; mark(row, false, msg("msgFailed") + ": " + msg("msgNotInBundle")); }
      }
      let text = failed ? msg("msgSomeFailed", { n: failed }) : msg("msgAllOk", { n: verified, size: cp.size });
      if (signed === null) text += " " + msg("msgNoEd25519");
      status.textContent = text;
      section.dataset.result = failed ? "failed" : "verified";
    } catch (e) {
      status.textContent = msg("msgError", { why: e.message });
      section.dataset.result = "error";
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", run);
})();
