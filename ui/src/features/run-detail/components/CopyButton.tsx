import { useState } from 'react';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [result, setResult] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <button
      type="button"
      className="copy-button"
      onClick={() => {
        // The clipboard needs a secure context (https or localhost); say so when it is refused.
        const copy = navigator.clipboard?.writeText(text) ?? Promise.reject(new Error('no clipboard'));
        copy.then(
          () => setResult('copied'),
          () => setResult('failed'),
        );
      }}
    >
      {result === 'copied' ? 'Copied' : result === 'failed' ? 'Copy failed: select the text' : label}
    </button>
  );
}
