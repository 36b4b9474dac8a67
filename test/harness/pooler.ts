import net from 'node:net';

/**
 * A loopback proxy in front of PostgreSQL that drops the `options` startup parameter, as some
 * connection poolers do: sessions through it cannot be made read-only by the client.
 */
export async function startOptionDroppingProxy(
  port: number,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    let first = true;
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      if (!first) {
        upstream.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
      first = false;
      const len = pending.readInt32BE(0);
      const fields = pending
        .subarray(8, len - 1)
        .toString('utf8')
        .split('\0');
      const kept: string[] = [];
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] !== 'options') kept.push(fields[i] as string, fields[i + 1] as string);
      }
      const body = Buffer.from(`${kept.join('\0')}\0\0`, 'utf8');
      const head = Buffer.alloc(8);
      head.writeInt32BE(8 + body.length, 0);
      pending.copy(head, 4, 4, 8);
      upstream.write(Buffer.concat([head, body, pending.subarray(len)]));
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
