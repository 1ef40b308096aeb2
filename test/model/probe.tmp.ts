import { connectionModel, variants } from '../support/model-connection.js';
const m = connectionModel(variants[Number(process.argv[2] ?? 0)]!);
for (const p of m.paths({ simpleDepth: 6, simpleLimit: 40 })) console.log(p.steps.length, p.description, '   <=', p.reasons.slice(0, 2).join('; '));
