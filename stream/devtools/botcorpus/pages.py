"""Small task pages that resemble a site (log-in form, menu, drag, slider, reading with the wheel).

Every page loads the real collector bundle (``collector_js/dist/cursorprint.min.js``) and starts it
with a token minted for the page's ``?user=``, exactly as a site embeds it. The drivers find the
targets by the ids below; nothing on a page helps or hinders a driver.
"""

from __future__ import annotations

import json

__all__ = ["TASKS", "task_page", "BLANK_PAGE"]

TASKS = ("login", "menu", "drag", "slider", "reading")

_STYLE = """
  html, body { margin: 0; font: 15px sans-serif; background: #fafafa; }
  .box { position: absolute; border: 1px solid #888; background: #fff; }
  button, input { font: inherit; }
  #menu-bar { position: absolute; left: 0; top: 0; right: 0; height: 44px; background: #234; }
  .top { position: absolute; top: 8px; height: 28px; width: 110px; color: #fff; padding: 4px;
         box-sizing: border-box; }
  .drop { display: none; position: absolute; top: 36px; left: 0; width: 170px; background: #fff;
          border: 1px solid #555; }
  .top:hover .drop { display: block; }
  .item { height: 30px; color: #123; padding: 5px; box-sizing: border-box; }
  .item:hover { background: #cde; }
  #track { position: absolute; left: 260px; top: 380px; width: 700px; height: 8px;
           background: #ccc; }
  #knob { position: absolute; left: 250px; top: 368px; width: 22px; height: 32px;
          background: #36c; }
  .card { position: absolute; width: 110px; height: 70px; background: #fd8; border: 1px solid #a80; }
  #bin { position: absolute; left: 900px; top: 450px; width: 220px; height: 200px;
         background: #dfd; border: 2px dashed #484; }
  #text { margin: 60px auto; width: 640px; line-height: 1.6; }
"""

_BODIES = {
    "login": """
<div class="box" style="left:420px;top:180px;width:420px;height:330px">
  <div style="position:absolute;left:40px;top:30px">Sign in</div>
  <input id="user" style="position:absolute;left:40px;top:80px;width:330px;height:30px">
  <input id="pass" type="password" style="position:absolute;left:40px;top:150px;width:330px;height:30px">
  <label style="position:absolute;left:40px;top:205px"><input id="remember" type="checkbox"> remember me</label>
  <button id="submit" style="position:absolute;left:40px;top:250px;width:140px;height:40px">Sign in</button>
  <a id="forgot" href="#" style="position:absolute;left:230px;top:262px">forgot password?</a>
</div>""",
    "menu": """
<div id="menu-bar">""" + "".join(
        f'<div class="top" id="top{i}" style="left:{30 + i * 130}px">Section {i}'
        f'<div class="drop">' + "".join(
            f'<div class="item" id="item{i}-{j}">Item {i}.{j}</div>' for j in range(6))
        + "</div></div>" for i in range(6)) + """
</div>
<div class="box" style="left:200px;top:200px;width:860px;height:400px;padding:20px">Catalogue</div>""",
    "drag": "".join(
        f'<div class="card" id="card{i}" style="left:{120 + (i % 3) * 150}px;top:{160 + (i // 3) * 120}px">'
        f'card {i}</div>' for i in range(6)) + '<div id="bin">drop here</div>',
    "slider": """
<div style="position:absolute;left:260px;top:300px">Amount</div>
<div id="track"></div><div id="knob"></div>
<button id="confirm" style="position:absolute;left:580px;top:480px;width:140px;height:40px">Confirm</button>""",
    "reading": '<div id="text">' + "".join(
        f"<p>Paragraph {i}. Terms and conditions of the service, clause {i}: the user agrees to "
        "read this text, scroll through it and accept it at the end. "
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>"
        for i in range(40)) + '<a id="accept" href="#" style="display:block;margin:20px">I accept</a></div>',
}

_SCRIPT = """
<script src="/collector/cursorprint.min.js"></script>
<script>
  const config = __CONFIG__;
  window.__cursorprint = cursorprint.start({endpoint: config.endpoint, site: config.site,
                                             token: config.token, sampleMs: 8, flushMs: 1000});
  document.addEventListener("contextmenu", (e) => e.preventDefault());
</script>"""

BLANK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>calibrate</title></head>
<body style="margin:0;height:100vh"><script>
window.__off = null;
addEventListener("mousemove", (e) => { window.__off = [e.screenX - e.clientX, e.screenY - e.clientY]; });
</script></body></html>"""


def task_page(task: str, config: dict[str, str]) -> str:
    """The HTML of ``task`` with the collector started on ``config`` (endpoint, site, token)."""
    if task not in _BODIES:
        raise KeyError(task)
    script = _SCRIPT.replace("__CONFIG__", json.dumps(config).replace("<", "\\u003c"))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{task}</title>'
            f"<style>{_STYLE}</style></head><body>{_BODIES[task]}{script}</body></html>")
