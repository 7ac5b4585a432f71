// Prints one list of native/sources.json, space separated, for binding.gyp's <!@(...) expansion.
const list = require('../native/sources.json')[process.argv[2]];
if (!Array.isArray(list)) { console.error('unknown source list: ' + process.argv[2]); process.exit(1); }
console.log(list.join(' '));
