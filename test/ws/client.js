// MQTT.js over WebSockets from Node, driven by test/integration/ws_test.go.
// Usage: node client.js URL CLIENT_ID [X-Forwarded-For]
// Subscribes to ws/<id>, publishes to it, and prints "received <payload>".
const mqtt = require('mqtt');

const [url, id, xff] = process.argv.slice(2);
const opts = { clientId: id, reconnectPeriod: 0, connectTimeout: 5000 };
if (xff) opts.wsOptions = { headers: { 'X-Forwarded-For': xff } };
const topic = 'ws/' + id;
const client = mqtt.connect(url, opts);
const fail = (why) => { console.error('error: ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 10000).unref();
client.on('error', (e) => fail(e.message));
client.on('connect', () => {
  client.subscribe(topic, { qos: 1 }, (err) => {
    if (err) fail(err.message);
    client.publish(topic, 'hello from node', { qos: 1 });
  });
});
client.on('message', (t, payload) => {
  console.log('received ' + payload.toString());
  client.end(false, () => process.exit(0));
});
