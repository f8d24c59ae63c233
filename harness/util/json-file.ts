import { readFile } from 'node:fs/promises';
import { HarnessError } from '../errors.js';

/**
 * A JSON file as the harness reads its own artefacts (results.json, bench.json): an error coded
 * `code` that names the file and says whether it is missing, unreadable or not JSON.
 */
export async function readJsonFile(file: string, code: string, missingHint?: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    if (errno === 'EISDIR') throw e;
    throw new HarnessError(code, `${file}: ${errno === 'ENOENT' ? 'no such file' : `cannot read it (${errno ?? String(e)})`}`, {
      hint: errno === 'ENOENT' ? missingHint : undefined,
      details: { file },
      cause: e,
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HarnessError(code, `${file}: not JSON (${(e as Error).message})`, { details: { file }, cause: e });
  }
}
