// What a browser really downloads (issue 18): the bytes on the wire — headers and body as sent,
// with `Accept-Encoding: br, gzip` — for a first visit (cold cache) and a second one (warm:
// /pkg files revalidated with If-Modified-Since) to /login and, signed in, to the dashboard;
// beside the sizes of the same files on disk. Usage: transfer-size.mjs URL EMAIL PASSWORD
import http from "node:http";
const [base, email, password] = process.argv.slice(2);
const kb = (n) => (n / 1024).toFixed(1) + " KB";

/** One request; the raw bytes received (status line and headers included), not decoded. */
function get(path, headers = {}, method = "GET", body) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, headers: { "accept-encoding": "br, gzip", ...headers } }, (res) => {
      let bytes = 0;
      const chunks = [];
      res.on("data", (c) => { bytes += c.length; chunks.push(c); });
      res.on("end", () => {
        const head = `HTTP/1.1 ${res.statusCode}\r\n` + res.rawHeaders.reduce((s, v, i) => s + v + (i % 2 ? "\r\n" : ": "), "") + "\r\n";
        resolve({ status: res.statusCode, headers: res.headers, wire: head.length + bytes, body: Buffer.concat(chunks) });
      });
    });
    req.on("error", reject);
    if (body) req.write(body);
    req.end();
  });
}

async function visit(path, cookie, cache) {
  const page = await get(path, cookie ? { cookie } : {});
  // The page is compressed; its /pkg references are read from a plain copy.
  const plain = await new Promise((resolve) => {
    http.get(new URL(path, base), { headers: cookie ? { cookie } : {} }, (res) => {
      let s = ""; res.on("data", (c) => (s += c)); res.on("end", () => resolve(s));
    });
  });
  const assets = [...new Set(plain.match(/\/pkg\/[A-Za-z0-9_.-]+/g) ?? [])];
  let wire = page.wire;
  let disk = Buffer.byteLength(plain);
  for (const a of assets) {
    const raw = await new Promise((resolve) => http.get(new URL(a, base), (res) => {
      let n = 0; res.on("data", (c) => (n += c.length)); res.on("end", () => resolve({ n }));
    }));
    disk += raw.n;
    // What the browser kept from its first visit: the compressed answer's Last-Modified.
    const first = await get(a);
    const modified = first.headers["last-modified"];
    const headers = cache === "warm" && modified ? { "if-modified-since": modified } : {};
    wire += cache === "warm" ? (await get(a, headers)).wire : first.wire;
  }
  return { wire, disk, files: assets.length + 1 };
}

const signIn = await get("/api/login", { "content-type": "application/x-www-form-urlencoded" }, "POST",
  `email=${encodeURIComponent(email)}&password=${encodeURIComponent(password)}`);
const cookie = (signIn.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ");
if (!cookie) throw new Error(`sign-in failed: ${signIn.status}`);

console.log("| page | files | on disk (uncompressed) | first visit, on the wire | second visit, on the wire |");
console.log("|---|---:|---:|---:|---:|");
for (const [label, path, c] of [["/login", "/login", null], ["dashboard (signed in)", "/", cookie]]) {
  const cold = await visit(path, c, "cold");
  const warm = await visit(path, c, "warm");
  console.log(`| ${label} | ${cold.files} | ${kb(cold.disk)} | ${kb(cold.wire)} | ${kb(warm.wire)} |`);
}
