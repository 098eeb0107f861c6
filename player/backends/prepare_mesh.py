"""Mesh preparation: flat per-face shading for every material, face culling and face sorting.

Shading is flat (one color per triangle), computed on the CPU so that every backend shows the
same colors:

- basic: ``face_colors`` (1, one per face, or one per vertex averaged over the face);
- normal: the unit face normal in camera space mapped to RGB as ``n * 0.5 + 0.5`` (turned to
  the camera for a face seen from its back, as three.js shows it);
- depth: camera-space depth mapped to gray, white at the near plane, black at the far plane
  (near/far read from a perspective projection; from the faces' own depth range otherwise);
- phong: ``diffuse × Σ ambient`` + per light Lambert ``diffuse × light × max(0, n·l)`` + Blinn
  specular ``specular × light × max(0, n·h)^shininess``; light positions are in model space
  (transformed by the model matrix); DirectionalLight shines from light_position to target;
  a face seen from its back (BackSide, BothSides) is lit with its normal turned to the camera,
  as three.js lights it;
- textured: each triangle is cut into ``TEXTURE_SUBDIVISIONS``² smaller ones (so ``face_ids``
  repeats), each colored by the texture's nearest texel at its mean uv, times ``color``, then
  lit as phong (unlit when the material has no lights).

Culling uses the winding in NDC (y up): counter-clockwise is the front side.
``FaceCulling.FrontSide`` keeps front faces, ``BackSide`` keeps back faces, ``BothSides`` keeps
both (degenerate faces are always dropped). Sorting draws the farthest faces first (mean NDC z,
painter's algorithm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from player.backends.prepare import PreparedMesh, Projection, ViewportFrame, pt_to_px, texture_rgba
from player.backends.prepare_clip import clip_coords, clip_triangles
from player.backends.prepare_convert import (
    amounts,
    colors_any,
    enum_name,
    getter,
    transbuf_array,
    vec3_any,
)

_DEGENERATE = 1e-12
#: Textured meshes: each triangle becomes this many squared flat-colored sub-triangles.
TEXTURE_SUBDIVISIONS = 4


def _subdivision_weights(k: int) -> np.ndarray:
    """Barycentric weights (S, 3 corners, 3) of the k² sub-triangles of a triangle, same winding."""
    tris = []
    for i in range(k):
        for j in range(k - i):
            p = [(i, j), (i + 1, j), (i, j + 1)]
            tris.append(p)
            if i + j < k - 1:
                tris.append([(i + 1, j), (i + 1, j + 1), (i, j + 1)])
    w = np.array([[[1.0 - (a + b) / k, a / k, b / k] for a, b in tri] for tri in tris])
    return w


def subdivide(faces: np.ndarray, positions: np.ndarray, uvs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut every triangle into k² -> (positions (F·k²·3, 3), faces, uvs, parent face of each)."""
    w = _subdivision_weights(k)  # (S, 3, 3)
    sub_pos = np.einsum("scv,fvd->fscd", w, positions[faces].astype(np.float64))
    sub_uv = np.einsum("scv,fvd->fscd", w, uvs[faces].astype(np.float64))
    count = sub_pos.shape[0] * sub_pos.shape[1]
    parents = np.repeat(np.arange(faces.shape[0], dtype=np.int64), w.shape[0])
    new_faces = np.arange(count * 3, dtype=np.int64).reshape(-1, 3)
    return sub_pos.reshape(-1, 3).astype(np.float32), new_faces, sub_uv.reshape(-1, 2), parents


_MATERIAL_KINDS = {
    "MeshBasicMaterial": "basic",
    "MeshNormalMaterial": "normal",
    "MeshDepthMaterial": "depth",
    "MeshPhongMaterial": "phong",
    "MeshTexturedMaterial": "textured",
}


def material_kind(material: Any) -> str:
    """``"basic" | "normal" | "depth" | "phong" | "textured"`` from the material's class (a
    Mesh holds no other: gsp.visuals.mesh refuses the rest)."""
    return next(_MATERIAL_KINDS[k.__name__] for k in type(material).__mro__ if k.__name__ in _MATERIAL_KINDS)


def per_face(values: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Attribute with 1, one per face, or one per vertex (averaged; the mesh's checks in
    ``render`` allow no other count) -> one per face."""
    faces = indices.shape[0]
    if values.shape[0] == 1:
        return np.broadcast_to(values, (faces, *values.shape[1:])).astype(np.float32)
    if values.shape[0] == faces:
        return values.astype(np.float32)
    return values[indices].mean(axis=1).astype(np.float32)


_CULLING = {"frontside": "front", "backside": "back", "bothsides": "both"}


def face_culling_mode(material: Any) -> str:
    """``"front" | "back" | "both"``: which faces stay visible."""
    return _CULLING[enum_name(getter(material, "face_culling"), "MeshMaterial.face_culling")]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _face_normals(tri: np.ndarray) -> np.ndarray:
    return _unit(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))


def facing_away(positions: np.ndarray, faces: np.ndarray, mvp: np.ndarray) -> np.ndarray:
    """(F,) bool: True where a triangle turns its back to the camera (clockwise on the screen).

    The sign of the determinant of its corners' clip-space (x, y, w) is the sign of its area in
    NDC when every w > 0, and still tells the side facing the camera when a corner is behind it."""
    clip = clip_coords(positions, mvp)
    x, y, w = (np.ascontiguousarray(clip[:, k])[faces] for k in (0, 1, 3))  # (F, 3) each
    # The 3 × 3 determinant written out: np.linalg.det on (F, 3, 3) took 0.6 s for 10^6 faces.
    det = (
        x[:, 0] * (y[:, 1] * w[:, 2] - y[:, 2] * w[:, 1])
        - y[:, 0] * (x[:, 1] * w[:, 2] - x[:, 2] * w[:, 1])
        + w[:, 0] * (x[:, 1] * y[:, 2] - x[:, 2] * y[:, 1])
    )
    return det < 0.0


def shade_phong(
    diffuse: np.ndarray,
    specular: np.ndarray,
    shininess: float,
    lights: list[Any],
    normals: np.ndarray,
    centroids: np.ndarray,
    proj: Projection,
) -> np.ndarray:
    """Flat Blinn-Phong in world space: (F, 3) diffuse/specular RGB 0..1 -> (F, 3) RGB 0..1."""
    eye = _unit(proj.camera_position[None, :] - centroids)
    rgb = np.zeros_like(diffuse, dtype=np.float64)
    for i, light in enumerate(lights):
        what = f"MeshMaterial.lights[{i}]"
        color = colors_any(getter(light, "color"), f"{what}.color")[0, :3].astype(np.float64)
        energy = color * float(getter(light, "intensity"))
        kind = {k.__name__ for k in type(light).__mro__}
        if "AmbientLight" in kind:
            rgb += diffuse * energy
            continue
        if "DirectionalLight" in kind:
            source = proj.to_world(vec3_any(getter(light, "light_position"), f"{what}.light_position")[None, :])[0]
            target = proj.to_world(vec3_any(getter(light, "target_position"), f"{what}.target_position")[None, :])[0]
            to_light = np.broadcast_to(_unit(source - target), centroids.shape)
        elif "PointLight" in kind:
            source = proj.to_world(vec3_any(getter(light, "position"), f"{what}.position")[None, :])[0]
            to_light = _unit(source[None, :] - centroids)
        else:
            # A plain Light lights everything evenly, like an ambient one.
            rgb += diffuse * energy
            continue
        lambert = np.maximum(0.0, np.einsum("ij,ij->i", normals, to_light))
        half = _unit(to_light + eye)
        spec = np.maximum(0.0, np.einsum("ij,ij->i", normals, half)) ** float(shininess)
        spec = np.where(lambert > 0.0, spec, 0.0)
        rgb += diffuse * energy * lambert[:, None] + specular * energy * spec[:, None]
    return np.clip(rgb, 0.0, 1.0)


def _depth_gray(view_tri: np.ndarray, proj_matrix: np.ndarray) -> np.ndarray:
    depth = -view_tri[:, :, 2].mean(axis=1)
    m22, m23 = proj_matrix[2, 2], proj_matrix[2, 3]
    if proj_matrix[3, 2] != 0.0 and abs(m22 - 1.0) > 1e-12 and abs(m22 + 1.0) > 1e-12:
        near, far = m23 / (m22 - 1.0), m23 / (m22 + 1.0)
    else:
        # Orthographic or unknown: use the depth range of the mesh itself.
        near, far = (float(depth.min()), float(depth.max())) if depth.size else (0.0, 1.0)
    span = far - near if abs(far - near) > 1e-12 else 1.0
    return np.clip((far - depth) / span, 0.0, 1.0)


def _sample_texture(material: Any, uvs: np.ndarray | None, indices: np.ndarray) -> np.ndarray:
    """(F, 4) float RGBA: the texture's nearest texel at each face's mean uv (v = 0 at the bottom)."""
    texels = texture_rgba(getter(material, "texture"), "MeshTexturedMaterial.texture")
    h, w = texels.shape[:2]
    assert uvs is not None  # a textured material on a geometry without uvs is refused by render
    uv = uvs[indices].mean(axis=1)
    cols = np.clip(np.floor(uv[:, 0] * w), 0, w - 1).astype(np.int64)
    rows = np.clip(np.floor((1.0 - uv[:, 1]) * h), 0, h - 1).astype(np.int64)
    return texels[rows, cols].astype(np.float32) / 255.0


def prepare_mesh_faces(visual: Any, proj: Projection, frame: ViewportFrame) -> PreparedMesh:
    """Shade, cull and sort a Mesh's triangles (see the module docstring for the rules)."""
    geometry = getter(visual, "geometry")
    material = getter(visual, "material")
    kind = material_kind(material)
    positions = transbuf_array(getter(geometry, "positions"), "MeshGeometry.positions", ("vec3",))
    indices = transbuf_array(getter(geometry, "indices"), "MeshGeometry.indices", ("uint32",)).astype(np.int64)
    faces = indices.reshape(-1, 3)
    uvs_value = getter(geometry, "uvs")
    uvs = None if uvs_value is None else transbuf_array(uvs_value, "MeshGeometry.uvs", ("vec2",))

    parents = np.arange(faces.shape[0], dtype=np.int64)
    if kind == "textured" and uvs is not None and TEXTURE_SUBDIVISIONS > 1:
        positions, faces, uvs, parents = subdivide(faces, positions, uvs, TEXTURE_SUBDIVISIONS)
    ndc = proj.project(positions)
    tri_ndc = ndc[faces]
    f = faces.shape[0]

    if kind == "basic":
        rgba = per_face(colors_any(getter(material, "face_colors"), "MeshBasicMaterial.face_colors"), faces)
    elif kind == "normal":
        view_tri = proj.to_view(positions)[faces]
        normals = _face_normals(view_tri)
        if face_culling_mode(material) != "front":  # FrontSide shows no back face
            normals[facing_away(positions, faces, proj.mvp)] *= -1.0  # the side seen, as three.js shows it
        rgb = normals * 0.5 + 0.5
        rgba = np.concatenate([rgb, np.ones((f, 1))], axis=1)
    elif kind == "depth":
        gray = _depth_gray(proj.to_view(positions)[faces], proj.proj)
        rgba = np.stack([gray, gray, gray, np.ones(f)], axis=1)
    else:
        world_tri = proj.to_world(positions)[faces]
        normals, centroids = _face_normals(world_tri), world_tri.mean(axis=1)
        # A face seen from its back (shown by BackSide or BothSides) is lit on that side, as
        # three.js and OpenGL's two-sided lighting light it: its normal turns to the camera.
        if face_culling_mode(material) != "front":  # FrontSide shows no back face
            normals[facing_away(positions, faces, proj.mvp)] *= -1.0
        if kind == "phong":
            base = per_face(colors_any(getter(material, "diffuse_color"), "MeshPhongMaterial.diffuse_color"), faces)
        else:
            tint = colors_any(getter(material, "color"), "MeshTexturedMaterial.color")[0]
            base = _sample_texture(material, uvs, faces) * tint[None, :]
        specular = per_face(colors_any(getter(material, "specular_color"), f"{kind}.specular_color"), faces)
        lights = list(getter(material, "lights") or [])
        if lights:
            rgb = shade_phong(base[:, :3], specular[:, :3], float(getter(material, "shininess")), lights, normals, centroids, proj)
        else:
            rgb = base[:, :3]
        rgba = np.concatenate([rgb, base[:, 3:4]], axis=1)

    if kind == "textured":
        edge_colors = np.zeros((f, 4), dtype=np.float32)
        edge_widths = np.zeros(f, dtype=np.float32)
    else:
        edge_colors = per_face(colors_any(getter(material, "edge_colors"), "MeshMaterial.edge_colors"), faces)
        widths = amounts(getter(material, "edge_widths"), "MeshMaterial.edge_widths")
        edge_widths = per_face(widths, faces)

    clipped = clip_triangles(positions, proj.mvp, faces, tri_ndc)
    if clipped is not None:  # vertices nearer than the near plane: the triangles' parts beyond are kept
        tri_ndc, source = clipped
        rgba, edge_colors, edge_widths = np.asarray(rgba)[source], np.asarray(edge_colors)[source], np.asarray(edge_widths)[source]
        parents = parents[source]

    # Culling: signed area in NDC (y up), counter-clockwise = front.
    a = tri_ndc[:, 1, :2] - tri_ndc[:, 0, :2]
    b = tri_ndc[:, 2, :2] - tri_ndc[:, 0, :2]
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    mode = face_culling_mode(material)
    with np.errstate(invalid="ignore"):
        keep = {"front": cross > _DEGENERATE, "back": cross < -_DEGENERATE, "both": np.abs(cross) > _DEGENERATE}[mode]
    order = np.nonzero(keep)[0]
    if bool(getter(material, "face_sorting")):
        depth = tri_ndc[order, :, 2].mean(axis=1)
        order = order[np.argsort(-depth, kind="stable")]

    tri = tri_ndc[order].astype(np.float32)
    return PreparedMesh(
        triangles_ndc=tri,
        triangles_px=frame.ndc_to_px(tri),
        face_colors=np.asarray(rgba, dtype=np.float32)[order],
        edge_colors=np.asarray(edge_colors, dtype=np.float32)[order],
        edge_widths_pt=np.asarray(edge_widths, dtype=np.float32)[order],
        edge_widths_px=pt_to_px(np.asarray(edge_widths)[order], frame.dpi),
        face_ids=parents[order],
        material=kind,
    )
