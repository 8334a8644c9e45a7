// DuckDB peer of csv_clean.flow: the same cleaning work with DuckDB (Node API),
// on all cores.
//
//   node bench/csv_clean/duckdb_clean.mjs FILE.csv [--threads N] [--sample OUT.csv --every K]
//
// Reads the header for the column names: `city` is categorical (VARCHAR), every other
// column a float32 number (FLOAT, as conveyor reads them). read_csv with explicit
// columns and ignore_errors skips the rows conveyor quarantines (a wrong field count,
// a cell that is not a number); an empty cell is NULL. The rows with no NULL are kept
// in a table (file order: preserve_insertion_order, DuckDB's default), the mean and
// population standard deviation of each numeric column and the sorted city values
// are taken from it, and one query computes the z-scores and the one-hot columns
// (named `city=VALUE` as conveyor names them) and sums every output column, so that
// each value is computed (a bare count(*) would let the optimizer skip them).
// --sample writes every K-th output row (rows 0, K, 2K, ... of the output) with a
// header, for the driver's value check.
// Prints one JSON line: rows_out, columns, threads.
import { DuckDBInstance } from '@duckdb/node-api';
import { open } from 'node:fs/promises';
import os from 'node:os';

const CATEGORICAL = 'city';

function usage(message) {
  console.error(`duckdb_clean: ${message}\nusage: duckdb_clean.mjs FILE.csv [--threads N] [--sample OUT.csv --every K]`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { file: null, threads: os.availableParallelism?.() ?? os.cpus().length, sample: null, every: 0 };
  for (let i = 0; i < argv.length; ++i) {
    const v = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${v} needs a value`));
    if (v === '--threads') a.threads = Number(next());
    else if (v === '--sample') a.sample = next();
    else if (v === '--every') a.every = Number(next());
    else if (v.startsWith('--')) usage(`unknown option ${v}`);
    else if (a.file === null) a.file = v;
    else usage(`unexpected argument ${v}`);
  }
  if (a.file === null) usage('no input file');
  if (!Number.isInteger(a.threads) || a.threads < 1) usage('--threads must be an integer >= 1');
  if ((a.sample === null) !== (a.every === 0)) usage('--sample and --every go together');
  if (a.sample !== null && (!Number.isInteger(a.every) || a.every < 1)) usage('--every must be an integer >= 1');
  return a;
}

async function headerOf(path) {
  const f = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await f.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8');
    const end = text.indexOf('\n');
    if (end < 0) throw new Error(`${path}: no header line in the first ${buf.length} bytes`);
    return text.slice(0, end).replace(/\r$/, '').split(',');
  } finally {
    await f.close();
  }
}

const ident = (name) => `"${name.replaceAll('"', '""')}"`;
const literal = (text) => `'${text.replaceAll("'", "''")}'`;

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const names = await headerOf(a.file);
  if (!names.includes(CATEGORICAL)) throw new Error(`${a.file}: no column '${CATEGORICAL}' in the header`);
  const numeric = names.filter((n) => n !== CATEGORICAL);

  // temp_directory '': no spilling to a .tmp folder in the working directory (the
  // checkout); past DuckDB's memory limit (80% of RAM) the query fails instead.
  const db = await DuckDBInstance.create(':memory:', { threads: String(a.threads), temp_directory: '' });
  const con = await db.connect();
  const types = names.map((n) => `${literal(n)}: ${n === CATEGORICAL ? "'VARCHAR'" : "'FLOAT'"}`).join(', ');
  await con.run(
    `CREATE TEMP TABLE t AS SELECT * FROM read_csv(${literal(a.file)}, header = true, auto_detect = false, ` +
    `delim = ',', quote = '"', escape = '"', columns = {${types}}, ignore_errors = true) ` +
    `WHERE ${names.map((n) => `${ident(n)} IS NOT NULL`).join(' AND ')}`);

  const stats = (await con.runAndReadAll(
    `SELECT ${numeric.map((n) => `avg(${ident(n)}), stddev_pop(${ident(n)})`).join(', ')} FROM t`)).getRowsJS()[0];
  const cities = (await con.runAndReadAll(
    `SELECT DISTINCT ${ident(CATEGORICAL)} FROM t ORDER BY 1`)).getRowsJS().map((r) => r[0]);

  // Output columns in conveyor's order: the numeric columns, then city's one-hot
  // columns where city was (it is the last input column here).
  const outputs = [];
  numeric.forEach((n, i) => {
    const mean = stats[2 * i], sd = stats[2 * i + 1] > 0 ? stats[2 * i + 1] : 1;
    outputs.push([n, `((${ident(n)} - ${mean}) / ${sd})::FLOAT`]);
  });
  for (const c of cities)
    outputs.push([`${CATEGORICAL}=${c}`, `(${ident(CATEGORICAL)} = ${literal(c)})::FLOAT`]);
  const projection = outputs.map(([name, expr]) => `${expr} AS ${ident(name)}`).join(', ');

  const sums = (await con.runAndReadAll(
    `SELECT count(*), ${outputs.map(([name]) => `sum(${ident(name)})`).join(', ')} FROM (SELECT ${projection} FROM t)`,
  )).getRowsJS()[0];
  const rowsOut = Number(sums[0]);

  if (a.sample !== null)
    await con.run(`COPY (SELECT ${projection} FROM t WHERE rowid % ${a.every} = 0 ORDER BY rowid) ` +
                  `TO ${literal(a.sample)} (FORMAT csv, HEADER true)`);
  console.log(JSON.stringify({ rows_out: rowsOut, columns: outputs.length, threads: a.threads }));
}

main().catch((e) => {
  console.error(`duckdb_clean: ${e.message}`);
  process.exit(1);
});
