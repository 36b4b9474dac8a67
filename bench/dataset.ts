import fs from 'node:fs';
import path from 'node:path';
import { dumpDatabase } from '../src/demo/sample.js';
import { withClient } from '../src/postgres/client.js';
import { ScratchCluster } from '../src/postgres/cluster.js';

/** Bump when the schema or the data below change: cached dumps of another version are not reused. */
export const DATASET_VERSION = 'v1';

/**
 * Dump bytes (pg_dump -Fc, default gzip) per unit of scale, measured on PostgreSQL 15 with a
 * calibration run: one unit is one customer with 4 orders, 12 order lines and 10 events.
 */
const DUMP_BYTES_PER_UNIT = 850;

export const OUT_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), 'out');

/** A shop with an event log: five tables, primary keys, foreign keys, secondary indexes. */
const SCHEMA_SQL = `
CREATE TABLE product (
  id integer PRIMARY KEY,
  sku text NOT NULL UNIQUE,
  title text NOT NULL,
  description text NOT NULL,
  price numeric(10,2) NOT NULL
);
CREATE TABLE customer (
  id bigint PRIMARY KEY,
  email text NOT NULL,
  full_name text NOT NULL,
  country char(2) NOT NULL,
  created_at timestamptz NOT NULL,
  balance numeric(12,2) NOT NULL
);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  placed_at timestamptz NOT NULL,
  status text NOT NULL,
  total numeric(12,2) NOT NULL,
  shipping_address text NOT NULL
);
CREATE TABLE order_line (
  order_id bigint NOT NULL,
  line_no smallint NOT NULL,
  product_id integer NOT NULL,
  quantity integer NOT NULL,
  unit_price numeric(10,2) NOT NULL,
  discount real NOT NULL
);
CREATE TABLE event (
  id bigint PRIMARY KEY,
  customer_id bigint NOT NULL,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  payload text NOT NULL,
  score double precision NOT NULL
);
`;

const PRODUCTS = 10_000;

/** One statement per table; each runs on its own connection so the two cores share the load. */
function loadStatements(units: number): string[] {
  const orders = units * 4;
  return [
    `INSERT INTO product
       SELECT g, 'SKU-' || upper(substr(md5(g::text), 1, 12)), 'product ' || md5(random()::text),
              md5(random()::text) || ' ' || md5(random()::text), round((1 + random() * 500)::numeric, 2)
       FROM generate_series(1, ${PRODUCTS}) g`,
    `INSERT INTO customer
       SELECT g, substr(md5(random()::text), 1, 16) || '@example.com', initcap(substr(md5(random()::text), 1, 20)),
              (ARRAY['US','DE','FR','GB','JP','BR','IN','CA'])[1 + (g % 8)],
              timestamptz '2020-01-01' + random() * interval '2000 days',
              round((random() * 10000 - 2000)::numeric, 2)
       FROM generate_series(1, ${units}) g`,
    `INSERT INTO orders
       SELECT g, 1 + (g - 1) / 4, timestamptz '2021-01-01' + random() * interval '1500 days',
              (ARRAY['new','paid','shipped','delivered','returned'])[1 + (random() * 4)::int],
              round((random() * 1000)::numeric, 2),
              (random() * 9999)::int || ' ' ||
                (ARRAY['Oak','Maple','Pine','Cedar','Elm','Birch','Willow','Spruce'])[1 + (random() * 7)::int] ||
                ' ' || (ARRAY['Street','Avenue','Road','Lane','Drive'])[1 + (random() * 4)::int] || ', ' ||
                upper(substr(md5(random()::text), 1, 6)) || ' Springfield'
       FROM generate_series(1, ${orders}) g`,
    `INSERT INTO order_line
       SELECT 1 + (g - 1) / 3, 1 + (g - 1) % 3, 1 + (random() * (${PRODUCTS} - 1))::int,
              1 + (random() * 9)::int, round((1 + random() * 500)::numeric, 2), (random() * 0.3)::real
       FROM generate_series(1, ${orders * 3}) g`,
    `INSERT INTO event
       SELECT g, 1 + (random() * (${units} - 1))::bigint,
              timestamptz '2022-01-01' + random() * interval '1000 days',
              (ARRAY['login','view','cart','search','logout'])[1 + (g % 5)],
              json_build_object('session', substr(md5(random()::text), 1, 16),
                'page', '/products/' || (random() * ${PRODUCTS})::int,
                'ref', (ARRAY['search','email','direct','ads'])[1 + (random() * 3)::int],
                'agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:' || (100 + g % 30) || '.0) Firefox/' || (100 + g % 30))::text,
              random()
       FROM generate_series(1, ${units * 10}) g`,
  ];
}

const CONSTRAINTS_SQL = [
  'ALTER TABLE order_line ADD PRIMARY KEY (order_id, line_no)',
  'ALTER TABLE orders ADD FOREIGN KEY (customer_id) REFERENCES customer(id)',
  'ALTER TABLE order_line ADD FOREIGN KEY (order_id) REFERENCES orders(id)',
  'ALTER TABLE order_line ADD FOREIGN KEY (product_id) REFERENCES product(id)',
  'ALTER TABLE event ADD FOREIGN KEY (customer_id) REFERENCES customer(id)',
  'CREATE INDEX orders_customer_idx ON orders (customer_id)',
  'CREATE INDEX orders_placed_at_idx ON orders (placed_at)',
  'CREATE INDEX event_customer_at_idx ON event (customer_id, at)',
  'CREATE VIEW order_totals AS SELECT order_id, sum(quantity * unit_price) AS total FROM order_line GROUP BY order_id',
];

/** Run statements on `parallel` connections, each taking the next statement when it is free. */
async function runParallel(cluster: ScratchCluster, db: string, sqls: string[], parallel: number) {
  const queue = [...sqls];
  const worker = () =>
    withClient(cluster.conn(db), async (c) => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await c.query(next);
    });
  await Promise.all(Array.from({ length: parallel }, worker));
}

export interface Dump {
  file: string;
  bytes: number;
  /** True when it was made now, false when a cached one was reused. */
  generated: boolean;
  seconds: number;
}

export function unitsFor(targetMb: number): number {
  return Math.max(1000, Math.round((targetMb * 1024 * 1024) / DUMP_BYTES_PER_UNIT));
}

/**
 * A custom-format dump of about `targetMb` MiB, generated in a scratch cluster on first use and cached
 * under bench/out/ by dataset version and target size.
 */
export async function benchDump(targetMb: number, say: (m: string) => void): Promise<Dump> {
  const units = unitsFor(targetMb);
  const file = path.join(OUT_DIR, `bench-${DATASET_VERSION}-${targetMb}mb.dump`);
  if (fs.existsSync(file)) {
    return { file, bytes: fs.statSync(file).size, generated: false, seconds: 0 };
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const started = performance.now();
  say(`generating the dump: ${units} customers (scale units) in a scratch cluster...`);
  const cluster = await ScratchCluster.start({ label: 'bench' });
  const tmp = path.join(OUT_DIR, `bench-${DATASET_VERSION}-${targetMb}mb.tmp.dump`);
  try {
    await withClient(cluster.conn(), (c) => c.query('CREATE DATABASE bench'));
    await withClient(cluster.conn('bench'), (c) => c.query(SCHEMA_SQL));
    let t = performance.now();
    await runParallel(cluster, 'bench', loadStatements(units), 2);
    say(`  loaded tables in ${secs(t)}`);
    t = performance.now();
    await runParallel(cluster, 'bench', CONSTRAINTS_SQL, 1);
    await withClient(cluster.conn('bench'), async (c) => {
      await c.query('ANALYZE');
      const { rows } = await c.query<{ size: string }>(
        "SELECT pg_size_pretty(sum(pg_table_size(oid))) AS size FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
      );
      say(`  constraints and indexes in ${secs(t)}; table data ${rows[0]?.size}`);
    });
    t = performance.now();
    await dumpDatabase(cluster, 'bench', tmp);
    say(`  pg_dump -Fc in ${secs(t)}`);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
    await cluster.stop();
  }
  return {
    file,
    bytes: fs.statSync(file).size,
    generated: true,
    seconds: (performance.now() - started) / 1000,
  };
}

function secs(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
