// Verifies a VC-JWT with panva's `jose` (an independent JOSE implementation), the way a
// verifier resolving did:web does: the header's `kid` names a verification method of the DID
// document given, whose publicKeyJwk must check the signature (EdDSA, typ vc+jwt).
// stdin: {"jwt": "...", "didDocument": {...}}; stdout: {"verified": true, "payload": {...}}
// or {"verified": false, "error": "<jose error code>"}.
import { readFileSync } from "node:fs";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";

const input = JSON.parse(readFileSync(0, "utf8"));
const header = decodeProtectedHeader(input.jwt);
const method = (input.didDocument.verificationMethod || []).find((m) => m.id === header.kid);
if (!method || !(input.didDocument.assertionMethod || []).includes(method.id)) {
  console.log(JSON.stringify({ verified: false, error: "no assertion method " + header.kid }));
} else {
  try {
    const key = await importJWK(method.publicKeyJwk, "EdDSA");
    const { payload } = await jwtVerify(input.jwt, key, { algorithms: ["EdDSA"], typ: "vc+jwt" });
    console.log(JSON.stringify({ verified: true, payload }));
  } catch (error) {
    console.log(JSON.stringify({ verified: false, error: error.code || String(error) }));
  }
}
