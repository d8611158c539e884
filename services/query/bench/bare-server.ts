// The comparison endpoint of bench:query: express answering a fixed JSON body of the given size.
import express from 'express';

const body = JSON.parse(process.env.BODY ?? '[]') as unknown;
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
app.get('/fixed', (_req, res) => {
  res.json(body);
});
app.listen(Number(process.env.PORT), '127.0.0.1');
