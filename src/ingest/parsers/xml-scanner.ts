import { ElementBuffer } from './element-buffer.js';
import { FileRejectedError } from './types.js';

const enum Mode {
  Text,
  Lt,
  Bang,
  Comment,
  Cdata,
  Pi,
  StartName,
  InStartTag,
  EndName,
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const DASH = 0x2d;
const CLOSE_SQUARE = 0x5d;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const MAX_NAME_BYTES = 1024;
// Element names are remembered this deep inside a record; deeper levels are
// only counted (the parser refuses such nesting anyway, as invalid_xml).
const MAX_TRACKED_DEPTH = 512;

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A complete child element of the root, as bytes, with its tag name. */
export interface XmlElementChunk {
  name: string;
  bytes: Buffer;
  /** Elements nested past the limit inside it: its bytes were not kept (`bytes` is empty). */
  tooDeep?: boolean;
}

/**
 * Finds the byte range of each child element of the root in a stream of UTF-8
 * chunks, so that each can be parsed alone and memory stays one element deep
 * whatever the file size. A small state machine follows tags, quoted attribute
 * values, comments, CDATA and processing instructions; only the element being
 * collected is held. Any `<!` that is not a comment or CDATA (DOCTYPE, ENTITY
 * and the other DTD declarations) fails the file before anything is parsed.
 *
 * End tags are matched by name so that one broken element can be cut out and
 * rejected alone (its parse then fails) while scanning resumes at the next one;
 * breakage outside the elements fails the file (malformed_xml).
 */
export class XmlElementScanner {
  private mode = Mode.Text;
  private depth = 0;
  private rootName: string | undefined;
  private rootClosed = false;
  private stack: string[] = [];
  private deepLevels = 0;
  private name = '';
  private nameStart = 0;
  private bang = '';
  private run = 0;
  private quote = 0;
  private lastSlash = false;
  private capturing = false;
  private captureStart = 0;
  private captureOffset = 0;
  private tagOffset = 0;
  private readonly element: ElementBuffer;
  private offset = 0;
  elementCount = 0;
  /** Set once text sits directly inside the root, between elements; it is ignored. */
  strayText = false;

  /** `maxDepth`: element nesting allowed in a record, the record's own element being level 1. */
  constructor(
    limit: number,
    private readonly maxDepth: number,
  ) {
    this.element = new ElementBuffer(limit, () => `element ${this.elementCount + 1}`);
  }

  push(chunk: Buffer, out: XmlElementChunk[]): void {
    const length = chunk.length;
    this.captureStart = 0;
    this.nameStart = 0;
    for (let i = 0; i < length; i++) {
      const c = chunk[i]!;
      switch (this.mode) {
        case Mode.Text:
          if (c === LT) {
            this.mode = Mode.Lt;
            this.tagOffset = this.offset + i;
            if (this.depth === 1) this.beginCapture(i);
          } else if (this.depth >= 2) {
            const next = chunk.indexOf(LT, i);
            i = (next === -1 ? length : next) - 1;
          } else if (!isXmlSpace(c)) this.textOutsideElements(i);
          break;
        case Mode.Lt:
          if (c === BANG) {
            this.mode = Mode.Bang;
            this.bang = '';
          } else if (c === QUESTION) {
            this.mode = Mode.Pi;
            this.run = 0;
          } else if (c === SLASH) {
            this.mode = Mode.EndName;
            this.name = '';
            this.nameStart = i + 1;
          } else if (c === GT || c === LT || isXmlSpace(c)) {
            this.fail(`"<" not followed by a tag name`, i);
          } else {
            this.mode = Mode.StartName;
            this.name = '';
            this.nameStart = i;
            continue;
          }
          if (this.depth === 1) this.cancelCapture();
          break;
        case Mode.Bang:
          this.bang += String.fromCharCode(c);
          if (this.bang === '--') {
            this.mode = Mode.Comment;
            this.run = 0;
          } else if (this.bang === '[CDATA[') {
            if (this.depth <= 1) this.textOutsideElements(i);
            this.mode = Mode.Cdata;
            this.run = 0;
          } else if (!'--'.startsWith(this.bang) && !'[CDATA['.startsWith(this.bang)) {
            throw new FileRejectedError(
              'xml_doctype_forbidden',
              `a DTD declaration ("<!${this.bang}...") was found at byte ${this.tagOffset}: DOCTYPE and ENTITY declarations are refused`,
            );
          }
          break;
        case Mode.Comment:
          if (c === GT && this.run >= 2) this.mode = Mode.Text;
          else this.run = c === DASH ? this.run + 1 : 0;
          break;
        case Mode.Cdata:
          if (c === GT && this.run >= 2) this.mode = Mode.Text;
          else this.run = c === CLOSE_SQUARE ? this.run + 1 : 0;
          break;
        case Mode.Pi:
          if (c === GT && this.run === 1) this.mode = Mode.Text;
          else this.run = c === QUESTION ? 1 : 0;
          break;
        case Mode.StartName:
          if (c === GT || c === SLASH || isXmlSpace(c)) {
            this.takeName(chunk, i);
            this.mode = Mode.InStartTag;
            this.quote = 0;
            this.lastSlash = false;
            i--;
          }
          break;
        case Mode.InStartTag:
          if (this.quote !== 0) {
            const close = chunk.indexOf(this.quote, i);
            if (close === -1) i = length - 1;
            else {
              i = close;
              this.quote = 0;
            }
          } else if (c === GT) {
            this.mode = Mode.Text;
            this.onStartTag(chunk, i, this.lastSlash, out);
          } else if (c === DOUBLE_QUOTE || c === SINGLE_QUOTE) {
            this.quote = c;
            this.lastSlash = false;
          } else if (c === LT) {
            this.fail(`"<" inside the tag <${this.name}>`, i);
          } else this.lastSlash = c === SLASH;
          break;
        case Mode.EndName:
          if (c === GT) {
            this.takeName(chunk, i);
            this.mode = Mode.Text;
            this.onEndTag(chunk, i, this.name.trim(), out);
          }
          break;
      }
    }
    if (this.mode === Mode.StartName || this.mode === Mode.EndName) this.takeName(chunk, length);
    if (this.capturing) this.element.hold(chunk.subarray(this.captureStart));
    this.offset += length;
  }

  /** Throws unless the document is complete. */
  end(): void {
    if (this.depth >= 2 || (this.depth === 1 && this.capturing)) {
      this.fail(`the file ends inside element ${this.elementCount + 1} <${this.stack[0] ?? this.name}>`, 0);
    }
    if (this.rootName === undefined) this.fail('no root element found', 0);
    if (!this.rootClosed || this.mode !== Mode.Text) this.fail(`the file ends before </${this.rootName}>`, 0);
  }

  private takeName(chunk: Buffer, end: number): void {
    if (end > this.nameStart) this.name += chunk.toString('latin1', this.nameStart, end);
    this.nameStart = 0;
    if (this.name.length > MAX_NAME_BYTES) this.fail('a tag name is too long', end);
  }

  private textOutsideElements(i: number): void {
    if (this.depth === 1) this.strayText = true;
    else this.fail('text outside the root element', i);
  }

  private onStartTag(chunk: Buffer, gt: number, selfClosing: boolean, out: XmlElementChunk[]): void {
    if (this.depth === 0) {
      if (this.rootClosed) this.fail(`a second root element <${this.name}>`, gt);
      this.rootName = this.name;
      if (selfClosing) this.rootClosed = true;
      else this.depth = 1;
    } else if (this.depth === 1) {
      if (selfClosing) this.finishElement(chunk, gt + 1, this.name, out);
      else {
        this.stack = [this.name];
        this.depth = 2;
      }
    } else if (!selfClosing) {
      if (this.stack.length < MAX_TRACKED_DEPTH) this.stack.push(this.name);
      else this.deepLevels++;
      if (this.stack.length + this.deepLevels > this.maxDepth && !this.element.dropped) this.element.drop();
    }
  }

  private onEndTag(chunk: Buffer, gt: number, name: string, out: XmlElementChunk[]): void {
    if (this.depth === 0) this.fail(`unexpected end tag </${name}>`, gt);
    if (this.depth === 1) {
      if (name !== this.rootName) this.fail(`end tag </${name}> does not close <${this.rootName}>`, gt);
      this.depth = 0;
      this.rootClosed = true;
      return;
    }
    const elementName = this.stack[0]!;
    if (this.deepLevels > 0) {
      this.deepLevels--;
    } else if (name === this.stack[this.stack.length - 1]) {
      this.stack.pop();
      if (this.stack.length === 0) this.finishElement(chunk, gt + 1, elementName, out);
    } else if (name === elementName) {
      // An inner element was left open: cut here; the element's own parse rejects it.
      this.finishElement(chunk, gt + 1, elementName, out);
    } else if (name === this.rootName) {
      // The element was never closed: it ends where the root's end tag starts.
      this.finishElement(chunk, gt + 1, elementName, out, this.tagOffset);
      this.depth = 0;
      this.rootClosed = true;
    }
    // Any other stray end tag stays inside the element, whose parse rejects it.
  }

  private beginCapture(i: number): void {
    this.capturing = true;
    this.captureStart = i;
    this.captureOffset = this.offset + i;
  }

  private cancelCapture(): void {
    this.capturing = false;
    this.element.clear();
  }

  private finishElement(chunk: Buffer, end: number, name: string, out: XmlElementChunk[], endOffset?: number): void {
    const tooDeep = this.element.dropped;
    let bytes = this.element.finish(chunk.subarray(this.captureStart, end));
    if (endOffset !== undefined && !tooDeep) bytes = bytes.subarray(0, endOffset - this.captureOffset);
    out.push(tooDeep ? { name, bytes, tooDeep } : { name, bytes });
    this.elementCount++;
    this.cancelCapture();
    this.stack = [];
    this.deepLevels = 0;
    this.depth = 1;
  }

  private fail(reason: string, i: number): never {
    throw new FileRejectedError('malformed_xml', `${reason} (at byte ${this.offset + i})`);
  }
}
