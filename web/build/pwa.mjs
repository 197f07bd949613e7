// Build-time pieces of the installable web app, as one Vite plugin:
//  - PNG icons drawn here (no image tools needed) and the web app manifest;
//  - the service worker (src/sw.ts), bundled by esbuild with the list of files
//    to precache and a version derived from their contents;
//  - brotli and gzip forms of every text file, which the Go server hands out
//    by Accept-Encoding (internal/httpapi/web.go).
// Everything is deterministic, so `npm run build` reproduces dist/ exactly.

import { build } from 'esbuild';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const GREEN = [0x07, 0xc1, 0x60];

// --- PNG ---------------------------------------------------------------------

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** An RGBA PNG of size×size from pixel(x, y) → [r, g, b, a] (0–255). */
function png(size, pixel) {
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    const o = y * (size * 4 + 1);
    for (let x = 0; x < size; x++) rows.set(pixel(x, y), o + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * The app icon: favicon.svg's "T" on green, in a rounded square (or, for the
 * maskable icon, full bleed with the mark inside the safe zone), 4×4
 * supersampled.
 */
function icon(size, maskable) {
  const inset = maskable ? 0.2 : 0; // the safe zone of a maskable icon is the middle 80 %
  const radius = maskable ? 0 : 14 / 64;
  const inRounded = (u, v) => {
    if (maskable) return true;
    const r = radius;
    const cx = Math.min(Math.max(u, r), 1 - r);
    const cy = Math.min(Math.max(v, r), 1 - r);
    return (u - cx) ** 2 + (v - cy) ** 2 <= r * r;
  };
  const inT = (u, v) => {
    // favicon.svg: M18 22h28v6H35v20h-6V28H18z on a 64 grid
    const s = 1 - 2 * inset;
    const x = ((u - inset) / s) * 64;
    const y = ((v - inset) / s) * 64;
    return (x >= 18 && x <= 46 && y >= 22 && y <= 28) || (x >= 29 && x <= 35 && y >= 28 && y <= 48);
  };
  const N = 4;
  return png(size, (px, py) => {
    let bg = 0;
    let fg = 0;
    for (let i = 0; i < N; i++)
      for (let j = 0; j < N; j++) {
        const u = (px + (i + 0.5) / N) / size;
        const v = (py + (j + 0.5) / N) / size;
        if (inRounded(u, v)) {
          bg++;
          if (inT(u, v)) fg++;
        }
      }
    const a = bg / (N * N);
    if (a === 0) return [0, 0, 0, 0];
    const f = fg / bg;
    const ch = (c) => Math.round(c * (1 - f) + 255 * f);
    return [ch(GREEN[0]), ch(GREEN[1]), ch(GREEN[2]), Math.round(a * 255)];
  });
}

const manifest = {
  name: 'tkesj',
  short_name: 'tkesj',
  description: 'Chats, friends and Moments',
  id: '/',
  start_url: '/chats',
  scope: '/',
  display: 'standalone',
  background_color: '#ffffff',
  theme_color: '#07c160',
  icons: [
    { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
    { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
    { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
  ],
};

const COMPRESS = /\.(js|css|html|svg|webmanifest|json|txt)$/;

function walk(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p, base) : [path.relative(base, p).split(path.sep).join('/')];
  });
}

/** @returns {import('vite').Plugin} */
export function pwa() {
  let root = process.cwd();
  let outDir = 'dist';
  return {
    name: 'tkesj-pwa',
    apply: 'build',
    configResolved(c) {
      root = c.root;
      outDir = path.resolve(c.root, c.build.outDir);
    },
    async generateBundle(_, bundle) {
      const emit = (fileName, source) => this.emitFile({ type: 'asset', fileName, source });
      emit('icons/icon-192.png', icon(192, false));
      emit('icons/icon-512.png', icon(512, false));
      emit('icons/maskable-512.png', icon(512, true));
      emit('icons/apple-touch-icon.png', icon(180, true));
      emit('manifest.webmanifest', JSON.stringify(manifest, null, 2) + '\n');
      // What the service worker keeps for offline use: the shell and every
      // chunk (all small), the icons and the manifest. Its version changes
      // whenever any of them does, which makes browsers install the new one.
      const publicDir = path.join(root, 'public');
      const files = [...new Set([...Object.keys(bundle), ...(fs.existsSync(publicDir) ? walk(publicDir) : [])])]
        .filter((f) => f !== 'index.html' && !f.endsWith('.map'))
        .sort();
      const h = crypto.createHash('sha256');
      for (const f of Object.keys(bundle).sort()) {
        const b = bundle[f];
        h.update(f).update(b.type === 'chunk' ? b.code : b.source);
      }
      const version = h.digest('base64url').slice(0, 12);
      const sw = await build({
        entryPoints: [path.join(root, 'src/sw.ts')],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        minify: true,
        legalComments: 'none',
        define: {
          __PRECACHE__: JSON.stringify(['/', ...files.map((f) => '/' + f)]),
          __VERSION__: JSON.stringify(version),
        },
      });
      emit('sw.js', sw.outputFiles[0].text);
    },
    closeBundle() {
      for (const f of walk(outDir)) {
        if (!COMPRESS.test(f)) continue;
        const p = path.join(outDir, f);
        const raw = fs.readFileSync(p);
        const br = zlib.brotliCompressSync(raw, {
          params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
        });
        const gz = zlib.gzipSync(raw, { level: 9 });
        if (br.length < raw.length) fs.writeFileSync(p + '.br', br);
        if (gz.length < raw.length) fs.writeFileSync(p + '.gz', gz);
      }
    },
  };
}
