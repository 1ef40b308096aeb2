import { connectionModel, variants } from '../support/model-connection.js';
for (const [d, l] of [[6, 40], [7, 100], [8, 150]] as const) {
  for (const v of variants) {
    const t0 = Date.now();
    const m = connectionModel(v);
    m.size();
    const t1 = Date.now();
    const paths = m.paths({ simpleDepth: d, simpleLimit: l });
    console.log(d, l, v.name, 'traverse', t1 - t0, 'paths', paths.length, 'ms', Date.now() - t1);
  }
}
