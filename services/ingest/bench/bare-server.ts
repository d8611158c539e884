// The comparison endpoint of bench:ingest: express reading the same body and answering 202, nothing else.
// A process of its own, like ingest, so both share the machine with the load generator on equal terms.
import express from 'express';

const port = Number(process.env.PORT);
const app = express();
app.disable('x-powered-by');
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
app.post('/api/v1/webhooks/github', express.raw({ type: () => true, limit: 25 * 1024 * 1024 }), (req, res) => {
  res.status(202).json({ delivery_id: req.get('x-github-delivery'), status: 'queued' });
});
app.listen(port, '127.0.0.1');
