// Runs the parity calls in workerd: POST a case's bytes, get back
// { raw: [call text…], friendly: [{ok}|{error}…] }.
import * as ferry from "ferry-wasm";
import operations from "./operations.json";
import { answers, friendly } from "./calls.mjs";

export default {
  async fetch(request) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    const body = {
      raw: answers(ferry, bytes, operations.calls),
      friendly: operations.calls.map((c) => friendly(ferry, bytes, c)),
    };
    return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });
  },
};
