import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

/** The interactive reference at /docs: Scalar, loaded from this Worker's own static assets. */
describe("/docs", () => {
  it("is a page shell that loads only scripts from this origin, no inline script", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html.startsWith("<!doctype html>")).toBe(true);
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map(([, attrs]) => attrs?.match(/src="([^"]+)"/)?.[1])).toEqual([
      "/scalar/api-reference.js",
      "/scalar/init.js",
    ]);
    for (const [, , body] of scripts) expect(body).toBe("");
    expect(html).not.toMatch(/https?:\/\//); // nothing from another origin, not even a link
  });

  it("sends a CSP that allows scripts and connections to this origin only", async () => {
    const res = await call("/docs");
    await res.body?.cancel();
    const csp = Object.fromEntries(
      (res.headers.get("content-security-policy") ?? "").split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(" ")];
      }),
    );
    expect(csp).toMatchObject({
      "default-src": "'none'",
      "script-src": "'self'",
      "connect-src": "'self'",
      "font-src": "'self'",
      "frame-ancestors": "'none'",
      "base-uri": "'none'",
    });
    // Scalar's components inject <style> elements and style attributes: the one documented exception.
    expect(csp["style-src"]).toBe("'self' 'unsafe-inline'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("has its scripts served as static assets, cached, with fonts and telemetry off", async () => {
    const bundle = await env.ASSETS.fetch("http://localhost/scalar/api-reference.js");
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toContain("javascript");
    expect(bundle.headers.get("cache-control")).toBe("public, max-age=86400");
    expect(await bundle.text()).toContain("createApiReference");

    const init = await env.ASSETS.fetch("http://localhost/scalar/init.js");
    expect(init.status).toBe(200);
    const config = await init.text();
    expect(config).toContain('url: "/openapi.json"');
    expect(config).toContain("withDefaultFonts: false");
    expect(config).toContain("telemetry: false");
  });
});
