"""The demo page at `/`: static HTML, CSS and a JavaScript module, plus the skeleton it draws with.

The page holds no copy of the joint names, limbs or colours: it reads them from `/demo/skeleton`, which
takes them from `core.joints` and `core.drawing`, the definitions `render=png` and `clients.pose` draw with.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from core.drawing import SIDE_COLORS, css_color
from core.joints import JOINT_NAMES, SKELETON, joint_side, limb_side
from service.api.deps import CSP_HEADERS
from service.schemas import JointInfo, LimbInfo, SkeletonResponse

DEMO_ASSETS_PATH = "/demo/assets"
DEMO_ASSETS_DIR = Path(__file__).resolve().parent.parent / "static" / "demo"

SKELETON_RESPONSE = SkeletonResponse(
    joints=[JointInfo(name=name, side=joint_side(j)) for j, name in enumerate(JOINT_NAMES)],
    limbs=[LimbInfo(joints=(JOINT_NAMES[a], JOINT_NAMES[b]), side=limb_side((a, b))) for a, b in SKELETON],
    colors={side: css_color(bgr) for side, bgr in SIDE_COLORS.items()},
)

router = APIRouter(tags=["demo"])


@router.get("/", include_in_schema=False)
async def demo_page() -> FileResponse:
    return FileResponse(DEMO_ASSETS_DIR / "index.html", media_type="text/html", headers=CSP_HEADERS)


@router.get("/demo/skeleton", response_model=SkeletonResponse)
async def skeleton() -> SkeletonResponse:
    """Joint names and sides, limbs and side colours, as the service draws them (no API key needed)."""
    return SKELETON_RESPONSE
