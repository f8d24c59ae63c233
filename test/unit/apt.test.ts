import { expect } from 'chai';
import { parseAptSources, parseCandidate, parseDependsTarget } from '../../harness/lab/apt.js';

describe('apt parsing', () => {
  it('finds the archive for a suite in deb822 sources', () => {
    const text = `Types: deb\nURIs: http://archive.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://archive.example/debian-security\nSuites: bookworm-security\nComponents: main\n`;
    expect(parseAptSources([{ name: 'debian.sources', text }], 'bookworm')).to.equal('http://archive.example/debian');
    expect(parseAptSources([{ name: 'debian.sources', text }], 'trixie')).to.equal(undefined);
  });

  it('skips disabled stanzas and deb-src', () => {
    const text = `Types: deb\nEnabled: no\nURIs: http://off/debian\nSuites: bookworm\n\nTypes: deb-src\nURIs: http://src/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://on/debian/\nSuites: bookworm\n`;
    expect(parseAptSources([{ name: 'x.sources', text }], 'bookworm')).to.equal('http://on/debian');
  });

  it('reads one-line sources.list entries, options included', () => {
    const text = `# comment\ndeb-src http://src bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib\n`;
    expect(parseAptSources([{ name: 'sources.list', text }], 'bookworm')).to.equal('http://mirror.example/debian');
  });

  it('resolves the kernel metapackage and its candidate version', () => {
    expect(parseDependsTarget('linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n', 'linux-image-')).to.equal('linux-image-6.1.0-56-amd64');
    expect(parseDependsTarget('foo\n  Recommends: linux-image-x\n', 'linux-image-')).to.equal(undefined);
    expect(parseCandidate('linux-image-6.1.0-56-amd64:\n  Installed: (none)\n  Candidate: 6.1.192-2\n')).to.equal('6.1.192-2');
    expect(parseCandidate('x:\n  Installed: (none)\n  Candidate: (none)\n')).to.equal(undefined);
  });
});
