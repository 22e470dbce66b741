throw new Error('msgpackr-extract is intentionally not installed: chatterbox uses the pure-JS msgpackr decoder');
