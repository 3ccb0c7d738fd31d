"""Whole names and numbers in search: once an output word starts as a name or a number of the source starts, it
goes on as that source word goes on.

A copying model writes a name piece by piece, each piece its own choice, and a name it never saw comes out
with pieces dropped or made up ("Reykjavik" = Rey ##kja ##vik -> Rey ##kja ##kk; "450000" -> 4 ##5 ##0 ##0).
With one vocabulary for both sides a source word is a run of ids, so a search can hold a hypothesis to it:
a step's state holds, for each source position, how many pieces of the source word ending there the output's
current word has matched so far, and once a match binds, the next token is then limited to those words' next pieces
(or, where a matched word is complete, to any token that starts a new word: no piece added to a copied
name or number). And a beam ranks a finished hypothesis that left out a number or a rare name of the source
lower (`end_score`): the beam often holds one that kept it, a little less likely.

Only names and numbers bind: source words that start with a digit or a capital letter, and at the start of a
sentence only once two of their pieces were matched ("Rey ##kja" binds Reykjavik, where a single "Inform"
must not hold an English "Inform ##ation" to "Información"). A word the model does not start to copy is left
to it, but for the beam's ranking.
"""

from __future__ import annotations

import tensorflow as tf

from translator.decoding.search import NEG_INF, token_mask
from translator.data.text import GLUE, START_ID

# a finished hypothesis that left out a number of the source, or a name of more than one piece (one the
# vocabulary does not hold whole, so not one the model would translate, as María -> Mary), loses this much
# log-probability for each (set a priori, not tuned on the probe sets)
MISSING_COST = 1.0
SENTENCE_OPENERS = {".", "!", "?", "¿", "¡", '"', "«", "“", ":", ";"}  # after these a capital is a sentence's


def after(tensor, fill=0):
    """[n, S] -> [n, S]: at each position, what the next position holds (`fill` after the last)."""
    return tf.pad(tensor[:, 1:], [[0, 0], [0, 1]], constant_values=fill)


def before(tensor, fill=0):
    """[n, S] -> [n, S]: at each position, what the previous position holds (`fill` before the first)."""
    return tf.pad(tensor[:, :-1], [[0, 0], [1, 0]], constant_values=fill)


class WholeWords:
    """The vocabulary's view of words (which ids continue a word, which can start a name or number), and the
    two in-graph operations a search step needs: `follow` the tokens chosen, `constrain` the next choice."""

    def __init__(self, vocab: list[str]):
        self.continues = tf.constant([token.startswith("##") for token in vocab])
        self.starts_name = tf.constant([token[:1].isupper() for token in vocab])
        self.starts_number = tf.constant([token[:1].isdigit() for token in vocab])
        opens = [token.strip(GLUE) in SENTENCE_OPENERS for token in vocab]
        opens[START_ID] = True
        self.opens_sentence = tf.constant(opens)

    def start(self, source_ids):
        """The state before any output: (pieces matched, pieces needed) [n, S] int32, each source word's match
        ending at its position, and the word starts bound so far [n, S] bool: none."""
        none = tf.zeros(tf.shape(source_ids), tf.int32)
        return none, none, tf.zeros(tf.shape(source_ids), tf.bool)

    def needed(self, source_ids):
        """[n, S]: how many pieces of the word starting at each source position the output must have matched
        before the word binds; 0 where it never does."""
        after_opener = before(tf.gather(self.opens_sentence, source_ids), fill=True)
        names = tf.gather(self.starts_name, source_ids)
        needed = tf.where(names, tf.where(after_opener, 2, 1), 0)
        return tf.where(tf.gather(self.starts_number, source_ids), 1, needed)

    def follow(self, words, tokens, source_ids):
        """The state after the output gained `tokens` [n]: a piece that continues a word extends the matches
        it continues; any other token starts matches at the source words it equals that can bind."""
        matched, needed, bound_starts = words
        same = tf.equal(source_ids, tokens[:, None])
        shifted_matched, shifted_needed = before(matched), before(needed)
        extended = tf.where(same & (shifted_matched > 0), shifted_matched + 1, 0)
        word_needed = self.needed(source_ids)
        started = tf.where(same & (word_needed > 0), 1, 0)
        continuing = tf.gather(self.continues, tokens)[:, None]
        matched = tf.where(continuing, extended, started)
        needed = tf.where(continuing, shifted_needed, tf.where(started > 0, word_needed, 0))
        newly_bound = (matched > 0) & (matched == needed)  # at the word's first piece (needed 1) or second (2)
        bound_starts |= (newly_bound & (needed == 1)) | after(newly_bound & (needed == 2), fill=False)
        return matched, needed, bound_starts

    def missing(self, words, source_ids):
        """[n]: how many numbers, and names of more than one piece, the output has not written (bound) so far."""
        next_ids = after(source_ids)
        names = ((self.needed(source_ids) > 0) & tf.gather(self.starts_name, source_ids)
                 & tf.gather(self.continues, next_ids)) | tf.gather(self.starts_number, source_ids)
        return tf.reduce_sum(tf.cast(names & ~words[2], tf.float32), axis=1)

    def end_score(self, words, source_ids):
        """What a beam adds to a hypothesis's score when it ends: MISSING_COST per name or number left out."""
        return -MISSING_COST * self.missing(words, source_ids)

    def constrain(self, logits, words, source_ids):
        """logits [n, vocab] with NEG_INF on what a bound word does not allow next; rows without one are left
        alone, and so is every row at the steps where none has one (most steps)."""
        matched, needed, _ = words
        bound = (matched > 0) & (matched >= needed)
        return tf.cond(tf.reduce_any(bound), lambda: self._constrained(logits, bound, source_ids), lambda: logits)

    def _constrained(self, logits, bound, source_ids):
        next_ids = after(source_ids)  # PAD after the last position: no continuation
        going_on = bound & tf.gather(self.continues, next_ids)  # [n, S]
        complete = bound & ~tf.gather(self.continues, next_ids)
        allowed = token_mask(next_ids, going_on, tf.shape(logits)[-1])  # the next pieces of the words bound
        allowed |= tf.reduce_any(complete, axis=1)[:, None] & ~self.continues[None, :]
        return tf.where(tf.reduce_any(bound, axis=1)[:, None] & ~allowed, NEG_INF, logits)
