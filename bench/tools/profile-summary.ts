// Summarises a .cpuprofile written by `node --cpu-prof` (e.g. the server under
// BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/.data/prof"): self time by
// function and by package, so hot paths show without a browser.
//   node --import tsx bench/tools/profile-summary.ts <file.cpuprofile> [top] [skip-ms]
// skip-ms leaves out the first milliseconds of the profile (start-up, module loading).
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 30);
const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const skipUs = Number(process.argv[4] ?? 0) * 1000;
const self = new Map<number, number>();
let elapsed = 0;
profile.samples.forEach((id, i) => {
  elapsed += profile.timeDeltas[i] ?? 0;
  if (elapsed >= skipUs) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

function area(url: string): string {
  if (url === '') return '(native/vm)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /\/(src|bench)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return url;
  return url.slice(-60);
}

const fns = new Map<string, number>();
const areas = new Map<string, number>();
let total = 0;
for (const [id, us] of self) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const a = area(url);
  const key = `${functionName || '(anonymous)'} ${a}:${lineNumber + 1}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  areas.set(a, (areas.get(a) ?? 0) + us);
  total += us;
}
const show = (m: Map<string, number>, n: number) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
    .join('\n');
// Inclusive time: a sample counts for every area and every function of our own code on
// its stack (once each), so the cost of a middleware shows with everything it calls.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
    const a = area(url);
    if (a === '(native/vm)' || a.startsWith('node:')) continue;
    seen.add(a);
    if (a.startsWith('src/')) seen.add(`${functionName || '(anonymous)'} ${a}:${lineNumber + 1}`);
  }
  for (const k of seen) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
}
console.log(
  `total ${(total / 1000).toFixed(0)} ms\n\nby area:\n${show(areas, 25)}\n\nby function:\n${show(fns, top)}` +
    `\n\ninclusive (area or own function anywhere on the stack):\n${show(inclusive, top)}`,
);
