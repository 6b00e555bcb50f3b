//! The pipeline drawn live: a page on fizzflow's own metrics server that
//! renders `/graph.dot` with Viz.js served from the binary itself, so it
//! draws with no network (steady_state's page loads its renderer from a
//! CDN and is blank offline). The numbers are the ones `/metrics`, the
//! progress line and the summary print, read from the same atomics.

use crate::pipeline::live::Live;
use crate::pipeline::names::Channel;
use crate::util::units::{grouped, scaled};
use std::fmt::Write as _;

/// Viz.js 3.31.0 (Graphviz compiled to WebAssembly), unchanged from the
/// npm package @viz-js/viz; its licence is served beside it.
pub const VIZ_JS: &[u8] = include_bytes!("../../assets/viz/viz-global.js");
pub const VIZ_LICENSE: &str = include_str!("../../assets/viz/LICENSE");

/// The page: fetches `/graph.dot` once a second and draws it.
pub const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fizzflow: the pipeline, live</title>
<style>
body { font-family: sans-serif; margin: 1em; }
#graph svg { max-width: 100%; height: auto; }
#status { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
<h1>fizzflow</h1>
<div id="graph">drawing…</div>
<p id="status"></p>
<p><a href="/metrics">/metrics</a> · <a href="/graph.dot">/graph.dot</a> ·
<a href="/viz-LICENSE.txt">Viz.js licence</a> (served from this process: no network needed)</p>
<script src="/viz-global.js"></script>
<script>
const graph = document.getElementById("graph");
const status = document.getElementById("status");
Viz.instance().then(viz => {
  async function draw() {
    try {
      const dot = await (await fetch("/graph.dot", { cache: "no-store" })).text();
      graph.replaceChildren(viz.renderSVGElement(dot));
      status.textContent = "updated " + new Date().toLocaleTimeString();
    } catch (e) {
      status.textContent = "the run has ended or cannot be reached (" + e + ")";
    }
  }
  draw();
  setInterval(draw, 1000);
}).catch(e => { graph.textContent = "cannot start the renderer: " + e; });
</script>
</body>
</html>
"#;

/// Where a channel runs, as the graph draws it.
fn ends(channel: Channel, receiver: bool) -> (&'static str, &'static str, &'static str) {
    match channel {
        Channel::Beats => ("heartbeat", "worker", "beats (32 credits each)"),
        Channel::Values if receiver => ("receiver", "worker", "values from the source pod"),
        Channel::Values => ("generator", "worker", "values"),
        Channel::Messages => ("worker", "logger", "FizzBuzz messages"),
    }
}

/// The graph in Graphviz's DOT language, with this moment's numbers.
/// Fill is said in slots ("12 of 8,192 slots queued at last take"), not as a bare share that
/// an idle channel's consumer-side view can make read as full.
pub fn dot(live: &Live, channel_capacity: usize) -> String {
    let restarts = live.restarts();
    let logger = live.logger();
    let receiver = live
        .actors()
        .iter()
        .any(|a| a.as_str() == crate::pipeline::actor::receiver::NAME.as_str());
    let mut out = String::from(
        "digraph fizzflow {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"sans-serif\"];\n  edge [fontname=\"sans-serif\", fontsize=10];\n",
    );
    for actor in live.actors() {
        let name = actor.as_str();
        let mut label = name.to_string();
        match name {
            "logger" => {
                let _ = write!(
                    label,
                    "\\nmessages {}\\n{} msgs/s\\nsequence errors {}",
                    grouped(logger.messages),
                    scaled(live.msgs_per_sec()),
                    grouped(logger.sequence_errors)
                );
            }
            "checkpoint" => {
                let _ = write!(label, "\\ncheckpoints {}", grouped(live.checkpoints()));
            }
            _ => {}
        }
        let _ = write!(label, "\\nrestarts {}", grouped(restarts.of(name)));
        let _ = writeln!(out, "  \"{name}\" [label=\"{label}\"];");
    }
    for channel in Channel::ALL {
        let (from, to, what) = ends(channel, receiver);
        let _ = writeln!(
            out,
            "  \"{from}\" -> \"{to}\" [label=\"{what}\\n{} of {} slots queued at last take\"];",
            grouped(live.fill(channel)),
            grouped(channel_capacity as u64)
        );
    }
    out.push_str(
        "  \"logger\" -> \"checkpoint\" [label=\"cuts\"];\n  \"checkpoint\" -> \"logger\" [label=\"cut requests\", style=dashed];\n}\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Shape;

    #[test]
    fn the_graph_names_every_actor_and_channel_with_numbers() {
        let live = Live::default();
        live.set_fill(Channel::Messages, 12);
        let dot = dot(&live, 8192);
        for actor in ["heartbeat", "generator", "worker", "logger", "checkpoint"] {
            assert!(
                dot.contains(&format!("\"{actor}\" [label=\"{actor}")),
                "{dot}"
            );
        }
        assert!(
            dot.contains("FizzBuzz messages\\n12 of 8,192 slots queued at last take"),
            "{dot}"
        );
        assert!(dot.contains("\\nmessages 0\\n"), "{dot}");
        assert!(!dot.contains("receiver"), "{dot}");
    }

    #[test]
    fn a_sink_pod_draws_its_receiver() {
        let live = Live::new(Shape::Sink);
        let dot = dot(&live, 8192);
        assert!(dot.contains("\"receiver\" -> \"worker\""), "{dot}");
        assert!(!dot.contains("generator"), "{dot}");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"));
        assert!(PAGE.contains("<script src=\"/viz-global.js\">"));
        assert!(VIZ_JS.len() > 1_000_000, "the renderer is vendored whole");
    }
}
