"""The pure core of ewe: events in, with event time; alert records out. No I/O, no wall clock.

The facade is small: `decode` an event, load a `Pack` of rules, run an `Evaluator` over events
(`process`, `advance`, `flush`, `snapshot`/`restore`, `load`), and read its records, typed as
`AlertRecord`. Everything else in the package serves these.

>>> pack = Pack.from_text('''
... rules:
...   - {id: smoke.alarm, on: reading, match: {type: smoke}, when: value > 0, severity: yellow}
... ''')
>>> evaluator = Evaluator(pack, lateness_ms=0)
>>> t, event = decode(b'{"kind":"reading","id":"r1","ts":1782864000000,"device_id":"s1",'
...                   b'"type":"smoke","value":1}')
>>> records = evaluator.process([(t, event)]).alerts + evaluator.flush().alerts
>>> [(record["rule"], record["change"]) for record in records]
[('smoke.alarm', 'fired')]
"""
from engine.evaluator import Evaluator, Output, Quarantine
from engine.events import Event, EventError, Location, decode
from engine.messages import AlertRecord
from engine.pack import Pack
from engine.rulefile import RuleFileError

__all__ = ["Evaluator", "Output", "Quarantine", "Event", "EventError", "Location", "decode",
           "AlertRecord", "Pack", "RuleFileError"]
