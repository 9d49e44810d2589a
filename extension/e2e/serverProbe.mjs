// @ts-check
/**
 * Asks the Python language server which `workspace/executeCommand` commands it offers (one
 * `initialize` over stdio), so the end-to-end test runs the steps the server supports and says
 * loudly which it cannot run yet.
 */
import { spawn } from 'node:child_process';

/**
 * @param {string} python @param {string} pythonRoot folder with server/ (PYTHONPATH)
 * @returns {Promise<string[]>}
 */
export function serverCommands(python, pythonRoot) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-m', 'server', 'serve'], {
      cwd: pythonRoot,
      env: { ...process.env, PYTHONPATH: pythonRoot },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let buffer = Buffer.alloc(0);
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no initialize answer in 30 s: ${stderr.slice(-500)}`));
    }, 30_000);
    const send = (/** @type {object} */ message) => {
      const body = Buffer.from(JSON.stringify(message));
      child.stdin.write(
        Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]),
      );
    };
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before answering: ${stderr.slice(-500)}`));
    });
    child.stdout.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const header = buffer.indexOf('\r\n\r\n');
      if (header < 0) return;
      const length = Number(
        /Content-Length: (\d+)/i.exec(buffer.subarray(0, header).toString())?.[1],
      );
      if (buffer.length < header + 4 + length) return;
      const message = JSON.parse(buffer.subarray(header + 4, header + 4 + length).toString());
      buffer = buffer.subarray(header + 4 + length);
      if (message.id !== 1) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      send({ jsonrpc: '2.0', id: 2, method: 'shutdown' });
      send({ jsonrpc: '2.0', method: 'exit' });
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      resolve(message.result?.capabilities?.executeCommandProvider?.commands ?? []);
    });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        initializationOptions: {},
      },
    });
  });
}
