"""Tables of a before/after comparison made by run.sh (see there): the median
(min-max) of each metric over the small runs, run 1 / run 2 of the full ones.
A run that failed part-way (NAME.json.tmp) counts for what it measured."""
import json, glob, os, statistics

RUNS = os.environ.get('RUNS', '/tmp/bench-compare')

def load(pat):
    out=[]
    files = sorted(glob.glob(f'{RUNS}/{pat}.json'))
    have = {f[:-len('.tmp')] for f in glob.glob(f'{RUNS}/{pat}.json.tmp')}
    for f in sorted(set(files) | have):
        try:
            out.append(json.load(open(f if os.path.exists(f) else f + '.tmp')))
        except Exception as e:
            print('unreadable', f, e)
    return out
def metric(d, scen, name):
    for s in d['scenarios']:
        if s['name']==scen:
            for m in s['metrics']:
                if m['name'].startswith(name): return m['value']
    return None
def step(d, scen, rate, key):
    for s in d['scenarios']:
        if s['name']==scen:
            for st in s.get('steps') or []:
                if st['target_per_s']==rate: return st.get(key)
    return None
def fmt(vals, nd=1):
    vals=[v for v in vals if v is not None]
    if not vals: return '–'
    f=lambda v: f'{v:,.{nd}f}'
    if len(vals)==1: return f(vals[0])
    if len(vals)==2: return f'{f(vals[0])} / {f(vals[1])}'
    return f'{f(statistics.median(vals))} ({f(min(vals))}–{f(max(vals))})'

rows = [
 ('B1','server RSS per connection','KiB',1),
 ('B2','highest sustained target rate','msg/s',0),
 ('B2','messages per server CPU-second at it','',0),
 ('B2','messages per (server+DB) CPU-second at it','',0),
 ('B2','SQL statements per message at it','',2),
 ('B2','send→deliver p50 at half that rate','ms',1),
 ('B2','send→deliver p99 at half that rate','ms',1),
 ('B2ws','highest sustained target rate','msg/s',0),
 ('B2ws','messages per server CPU-second at it','',0),
 ('B2ws','send→deliver p99 at half that rate','ms',1),
 ('B3','last-member p50 at 20','ms',1),
 ('B3','last-member p99 at 20','ms',1),
 ('B3','deliveries per server CPU-second','',0),
 ('B6','until invisible','ms',0),
 ('B6','until purged','s',2),
 ('B6','until un-indexed','s',2),
]
for size in ['small','full']:
  for store in ['sqlite','pg']:
    b=load(f'{size}-{store}-before-*'); a=load(f'{size}-{store}-after-*')
    if not b and not a: continue
    print(f'\n## {size} {store}: before n={len(b)}, after n={len(a)}')
    print('| | before | after |\n|---|---:|---:|')
    for scen,name,unit,nd in rows:
        bv=[metric(d,scen,name) for d in b]; av=[metric(d,scen,name) for d in a]
        if all(v is None for v in bv+av): continue
        print(f'| {scen} {name}{" ("+unit+")" if unit else ""} | {fmt(bv,nd)} | {fmt(av,nd)} |')
    for rate in [500,1000,2000,4000]:
        bv=[step(d,'B2',rate,'per_cpu_second') for d in b]; av=[step(d,'B2',rate,'per_cpu_second') for d in a]
        if all(v is None for v in bv+av): continue
        print(f'| B2 msgs per server CPU-s at {rate}/s | {fmt(bv,0)} | {fmt(av,0)} |')
        bv=[step(d,'B2',rate,'p99_ms') for d in b]; av=[step(d,'B2',rate,'p99_ms') for d in a]
        print(f'| B2 send→deliver p99 at {rate}/s (ms) | {fmt(bv,1)} | {fmt(av,1)} |')
        if store=='pg':
            bv=[step(d,'B2',rate,'per_server_db_cpu_second') for d in b]; av=[step(d,'B2',rate,'per_server_db_cpu_second') for d in a]
            print(f'| B2 msgs per (server+DB) CPU-s at {rate}/s | {fmt(bv,0)} | {fmt(av,0)} |')
