/**
 * `npm run openapi`: writes the generated OpenAPI document to
 * src/api/openapi.json (run from dist/src/api/ after the build).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderOpenApi } from './openapi.js';

const target = fileURLToPath(new URL('../../../src/api/openapi.json', import.meta.url));
writeFileSync(target, renderOpenApi());
process.stdout.write(`wrote ${target}\n`);
