/**
 * Reads a V8 heap snapshot (`.heapsnapshot`, as `v8.writeHeapSnapshot` writes it) and sums the
 * self size of its nodes by a label that says what they are and who holds them (issue 15: where
 * the bytes per key go). Used by bench/heap-attribution.ts.
 *
 * Labels: a JS object is labelled by its constructor (`MemoryCounterStore`; a plain object or
 * array also by its holder: `Object<-SpendLedger.scopes[]…`); a string by what it looks like
 * (`string counter key`, `string token hash`, …) or else by its holder; an internal node (a Map's
 * hash table, an array's elements, a boxed number) by its holder and the edge name
 * (`Map<-CounterKeys….table`). The holder is the node's first strong retainer in the snapshot,
 * which for the per-key structures of the gateway is the structure that owns them.
 *
 * Parsed from the bytes (not `JSON.parse` of the whole file): a snapshot of a gateway with
 * 100,000 keys is several hundred MB, near V8's longest string.
 */
import { readFileSync } from 'node:fs';

export interface LabelTotal {
  label: string;
  count: number;
  bytes: number;
}

export interface SnapshotSummary {
  totalBytes: number;
  nodeCount: number;
  byLabel: Map<string, LabelTotal>;
}

interface Meta {
  node_fields: string[];
  node_types: [string[], ...unknown[]];
  edge_fields: string[];
  edge_types: [string[], ...unknown[]];
}

/** Non-negative integers of a JSON array starting at `from` (just after its `[`), up to its `]`. */
function readNumbers(bytes: Buffer, from: number): { values: Float64Array; end: number } {
  let end = bytes.indexOf(0x5d /* ] */, from);
  let count = 0;
  let inNumber = false;
  for (let i = from; i < end; i++) {
    const digit = bytes[i]! >= 0x30 && bytes[i]! <= 0x39;
    if (digit && !inNumber) count++;
    inNumber = digit;
  }
  const values = new Float64Array(count);
  let n = 0;
  let current = 0;
  inNumber = false;
  for (let i = from; i < end; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x30 && byte <= 0x39) {
      current = current * 10 + (byte - 0x30);
      inNumber = true;
    } else if (inNumber) {
      values[n++] = current;
      current = 0;
      inNumber = false;
    }
  }
  if (inNumber) values[n++] = current;
  end++;
  return { values, end };
}

function sectionStart(bytes: Buffer, name: string, from = 0): number {
  const at = bytes.indexOf(`"${name}":`, from);
  if (at < 0) throw new Error(`heap snapshot without "${name}"`);
  return bytes.indexOf(0x5b /* [ */, at) + 1;
}

/** What a string in the gateway's heap looks like (the per-key strings have recognisable shapes). */
export function stringKind(value: string): string | undefined {
  if (/^(key|team|org):[^:]+:(rpm|rph|rpd|tpm|tpd|parallel):\d+$/.test(value)) return 'counter key';
  if (/^[0-9a-f]{64}$/.test(value)) return 'token hash';
  if (/^key_[0-9A-Za-z]+$/.test(value)) return 'key id';
  if (/^(key|team|org):[0-9A-Za-z_]+$/.test(value)) return 'scope:id';
  if (/^(warm|cold|revoke)-\d+$/.test(value)) return 'key name';
  return undefined;
}

export function summarizeSnapshot(path: string): SnapshotSummary {
  const bytes = readFileSync(path);
  const metaStart = bytes.indexOf('"meta":');
  const metaEnd = bytes.indexOf('"node_count"', metaStart);
  const metaText = bytes
    .subarray(metaStart + '"meta":'.length, metaEnd)
    .toString('utf8')
    .trim()
    .replace(/,$/, '');
  const meta = JSON.parse(metaText) as Meta;
  const nodesAt = sectionStart(bytes, 'nodes', metaEnd);
  const { values: nodes, end: nodesEnd } = readNumbers(bytes, nodesAt);
  const edgesAt = sectionStart(bytes, 'edges', nodesEnd);
  const { values: edges } = readNumbers(bytes, edgesAt);
  const stringsAt = bytes.lastIndexOf('"strings":');
  const stringsText = bytes.subarray(stringsAt + '"strings":'.length).toString('utf8');
  const strings = JSON.parse(stringsText.slice(0, stringsText.lastIndexOf(']') + 1)) as string[];

  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const nameEdges = new Set(
    ['context', 'property', 'internal', 'shortcut', 'weak'].map((t) => edgeTypes.indexOf(t)),
  );

  const count = nodes.length / nf;
  const owner = new Int32Array(count).fill(-1);
  const ownerEdge = new Array<string>(count);
  let edge = 0;
  for (let node = 0; node < count; node++) {
    const edgeCount = nodes[node * nf + nEdges]!;
    for (let k = 0; k < edgeCount; k++, edge += ef) {
      const type = edges[edge + eType]!;
      if (type === weak || type === shortcut) continue;
      const to = edges[edge + eTo]! / nf;
      if (owner[to] !== -1 || to === node) continue;
      owner[to] = node;
      const name = edges[edge + eName]!;
      // Hash tables name their slots by number (as strings): one label for all of them.
      const edgeName = nameEdges.has(type) ? strings[name]! : '[]';
      ownerEdge[to] = /^\d+$/.test(edgeName) ? '[]' : edgeName;
    }
  }

  const labels = new Array<string | undefined>(count);
  const typeOf = (node: number): string => nodeTypes[nodes[node * nf + nType]!]!;
  const nameOf = (node: number): string => strings[nodes[node * nf + nName]!]!;
  const label = (node: number, depth: number): string => {
    const known = labels[node];
    if (known !== undefined) return known;
    const type = typeOf(node);
    const holder = owner[node]!;
    const heldBy = (): string =>
      holder < 0 ? '(root)' : depth >= 4 ? typeOf(holder) : `${label(holder, depth + 1)}.${ownerEdge[node]}`;
    let result: string;
    if (type === 'object' || type === 'closure' || type === 'regexp') {
      const name = nameOf(node);
      const generic = name === 'Object' || name === 'Array' || name === 'Map' || name === 'Set';
      result = generic ? `${name}<-${heldBy()}` : type === 'object' ? name : `${type} ${name}`;
    } else if (type === 'string' || type === 'concatenated string' || type === 'sliced string') {
      const kind = stringKind(nameOf(node));
      result = kind !== undefined ? `string ${kind}` : `string<-${heldBy()}`;
    } else {
      result = `(${type})<-${heldBy()}`;
    }
    if (depth <= 1) labels[node] = result;
    return result;
  };

  const byLabel = new Map<string, LabelTotal>();
  let totalBytes = 0;
  for (let node = 0; node < count; node++) {
    const size = nodes[node * nf + nSize]!;
    if (size === 0) continue;
    totalBytes += size;
    const name = label(node, 0);
    let total = byLabel.get(name);
    if (total === undefined) {
      total = { label: name, count: 0, bytes: 0 };
      byLabel.set(name, total);
    }
    total.count++;
    total.bytes += size;
  }
  return { totalBytes, nodeCount: count, byLabel };
}

/** Rows of `after − before` by label, largest byte difference first. */
export function diffSummaries(
  after: SnapshotSummary,
  before: SnapshotSummary,
): { label: string; count: number; bytes: number }[] {
  const labels = new Set([...after.byLabel.keys(), ...before.byLabel.keys()]);
  const rows = [...labels].map((label) => {
    const a = after.byLabel.get(label);
    const b = before.byLabel.get(label);
    return {
      label,
      count: (a?.count ?? 0) - (b?.count ?? 0),
      bytes: (a?.bytes ?? 0) - (b?.bytes ?? 0),
    };
  });
  return rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
}
