// A validating gate in front of a registry (Cloudflare Worker style): a
// manifest PUT goes through ferry-core's validation before it is stored.
//
//   PUT /v2/<name>/manifests/<reference>   body: the manifest
//     400 {"errors":[{"code":"MANIFEST_INVALID",…,"detail":{diagnostics}}]}
//         for a manifest that is invalid or ambiguous (duplicate or
//         case-variant keys, fields of two formats, a wrong mediaType, …),
//         or whose Content-Type contradicts what the body is
//     200 {"digest","mediaType","size"} with Docker-Content-Digest otherwise
//         (a real gate would now forward the request to the registry)
//
// Errors use the distribution spec's error body, so registry clients show
// them as they show a registry's own.
import { inspect, validate } from "ferry-wasm";

const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (!MANIFEST_PATH.test(url.pathname)) {
      return reply(404, { errors: [{ code: "NAME_UNKNOWN", message: "not a manifest URL" }] });
    }
    if (request.method !== "PUT") {
      return reply(405, { errors: [{ code: "UNSUPPORTED", message: "only PUT is gated" }] }, { Allow: "PUT" });
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    const report = validate(bytes);
    if (!report.valid) {
      return invalid("manifest invalid", report);
    }
    // Valid documents can still fail to summarise: a signed schema 1
    // manifest whose signatures are malformed has no computable digest.
    let summary;
    try {
      summary = inspect(bytes);
    } catch (e) {
      return invalid(e.message, report);
    }
    const contentType = (request.headers.get("Content-Type") ?? "").split(";")[0].trim();
    if (contentType !== "" && contentType !== summary.mediaType) {
      return invalid(`Content-Type ${contentType} does not match the manifest, which is ${summary.mediaType}`, report);
    }
    return reply(
      200,
      { digest: summary.digest, mediaType: summary.mediaType, size: summary.size },
      { "Docker-Content-Digest": summary.digest },
    );
  },
};

function invalid(message, report) {
  return reply(400, {
    errors: [{
      code: "MANIFEST_INVALID",
      message,
      detail: {
        declaredMediaType: report.declaredMediaType,
        detectedMediaType: report.detectedMediaType,
        diagnostics: report.diagnostics,
      },
    }],
  });
}

function reply(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}
