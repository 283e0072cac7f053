// vendor-sign.mjs: signs webhook deliveries with each vendor's official SDK,
// for caddy-bff's revalidate_webhook tests.
//
// Reads a JSON array of jobs on stdin:
//   {"vendor": "...", "secret": "...", "body": "...", "timestamp": <unix s>,
//    "id": "...", "method": "POST", "path": "/hook", "headers": {...}}
// and prints, for each job, {"headers": {...}, "version": "<sdk version>"}:
// the headers the vendor's SDK produces for that delivery. Each signature
// is also checked with the same SDK's own verifier, so a wrong use of the
// SDK here fails loudly instead of testing nothing.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const version = (name) => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;

const jobs = JSON.parse(readFileSync(0, 'utf8'));
const out = [];

for (const job of jobs) {
  out.push(await sign(job));
}
process.stdout.write(JSON.stringify(out));

async function sign(job) {
  const { vendor, secret, body } = job;
  switch (vendor) {
    case 'stripe': {
      const Stripe = require('stripe');
      const stripe = new Stripe('sk_test_caddy_bff');
      const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: job.timestamp });
      // constructEvent refuses an old timestamp with its default 300 s
      // tolerance; check with a tolerance that covers the job's.
      stripe.webhooks.constructEvent(body, header, secret, Number.MAX_SAFE_INTEGER);
      return { version: version('stripe'), headers: { 'Stripe-Signature': header } };
    }
    case 'standardwebhooks':
    case 'svix': {
      // Svix's SDK signs the same scheme; its deliveries name the headers
      // svix-*, the standard's webhook-*.
      const { Webhook } = require(vendor);
      const signature = new Webhook(secret).sign(job.id, new Date(job.timestamp * 1000), body);
      const prefix = vendor === 'svix' ? 'svix' : 'webhook';
      return {
        version: version(vendor),
        headers: { [`${prefix}-id`]: job.id, [`${prefix}-timestamp`]: String(job.timestamp), [`${prefix}-signature`]: signature },
      };
    }
    case 'github': {
      const { sign, verify } = await import('@octokit/webhooks-methods');
      const signature = await sign(secret, body);
      if (!(await verify(secret, body, signature))) throw new Error('octokit verify refused its own signature');
      return {
        version: version('@octokit/webhooks-methods'),
        headers: { 'X-Hub-Signature-256': signature, 'X-GitHub-Delivery': job.id, 'X-GitHub-Event': 'push' },
      };
    }
    case 'sanity': {
      const { encodeSignatureHeader, isValidSignature } = require('@sanity/webhook');
      const header = await encodeSignatureHeader(body, job.timestamp * 1000, secret);
      if (!(await isValidSignature(body, header, secret))) throw new Error('@sanity/webhook refused its own signature');
      return {
        version: version('@sanity/webhook'),
        headers: { 'sanity-webhook-signature': header, 'idempotency-key': job.id, 'content-type': 'application/json' },
      };
    }
    case 'contentful': {
      const { signRequest, verifyRequest } = require('@contentful/node-apps-toolkit');
      const canonical = { method: job.method, path: job.path, headers: job.headers || {}, body };
      const signed = signRequest(secret, canonical, job.timestamp * 1000);
      const headers = { ...(job.headers || {}), ...signed };
      if (Math.abs(Date.now() - job.timestamp * 1000) < 20_000 && !verifyRequest(secret, { ...canonical, headers })) {
        throw new Error('node-apps-toolkit refused its own signature');
      }
      return { version: version('@contentful/node-apps-toolkit'), headers };
    }
    case 'shopify': {
      // The Shopify library signs nothing itself outside its test helpers:
      // getHmac is the helper its own tests sign webhooks with, and the
      // library's webhooks.validate must accept the delivery as built.
      await import('@shopify/shopify-api/adapters/node');
      const { shopifyApi, ApiVersion } = await import('@shopify/shopify-api');
      const { getHmac } = require('@shopify/shopify-api/test-helpers').default || require('@shopify/shopify-api/test-helpers');
      const hmac = getHmac(body, secret);
      const events = job.headers && job.headers.events;
      const headers = events
        ? {
            'shopify-hmac-sha256': hmac,
            'shopify-topic': 'products/update',
            'shopify-shop-domain': 'caddy-bff.myshopify.com',
            'shopify-api-version': ApiVersion.October25 || '2025-10',
            'shopify-event-id': job.id,
          }
        : {
            'X-Shopify-Hmac-Sha256': hmac,
            'X-Shopify-Topic': 'products/update',
            'X-Shopify-Shop-Domain': 'caddy-bff.myshopify.com',
            'X-Shopify-API-Version': '2025-10',
            'X-Shopify-Webhook-Id': job.id,
          };
      const shopify = shopifyApi({
        apiKey: 'caddy-bff',
        apiSecretKey: secret,
        scopes: [],
        hostName: 'caddy-bff.example',
        apiVersion: ApiVersion.October25 || Object.values(ApiVersion).at(-2),
        isEmbeddedApp: false,
        logger: { level: 0, log: () => {} },
      });
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const result = await shopify.webhooks.validate({
        rawBody: body,
        rawRequest: { method: 'POST', url: job.path, headers: lower },
        rawResponse: {},
      });
      if (!result.valid) throw new Error(`@shopify/shopify-api refused the delivery: ${JSON.stringify(result)}`);
      return { version: version('@shopify/shopify-api'), headers, validatedAs: result.webhookType };
    }
  }
  throw new Error(`unknown vendor ${vendor}`);
}
